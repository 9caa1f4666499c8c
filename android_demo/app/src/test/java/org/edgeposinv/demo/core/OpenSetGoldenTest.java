package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Test;

/** The app's open-set decisions and figures equal Python's on tests/golden/open_set.json. */
public class OpenSetGoldenTest {
    private static List<String> strings(JSONArray a) throws Exception {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.length(); i++) {
            out.add(a.getString(i));
        }
        return out;
    }

    private static List<float[]> rows(JSONArray a) throws Exception {
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < a.length(); i++) {
            double[] d = Golden.doubles(a.getJSONArray(i));
            float[] f = new float[d.length];
            for (int k = 0; k < d.length; k++) {
                f[k] = (float) d[k];
            }
            out.add(f);
        }
        return out;
    }

    private static JSONObject description(Object threshold, Object reserved) throws Exception {
        return new JSONObject().put("open_set", new JSONObject().put("score_threshold", threshold)
                .put("temperature", 1.0).put("reserved_label", reserved));
    }

    @Test
    public void decisionsMatchPython() throws Exception {
        JSONArray cases = Golden.json("open_set.json").getJSONArray("cases");
        int rejected = 0;
        for (int c = 0; c < cases.length(); c++) {
            JSONObject k = cases.getJSONObject(c);
            List<String> labels = strings(k.getJSONArray("labels"));
            OpenSet rule = OpenSet.of(description(k.get("score_threshold"), k.get("reserved_label")), labels);
            List<float[]> probs = rows(k.getJSONArray("probs"));
            for (int i = 0; i < probs.size(); i++) {
                OpenSet.Decision d = rule.decide(probs.get(i));
                String where = k.getString("name") + " row " + i;
                assertEquals(where, k.getJSONArray("expected_index").getInt(i), d.index);
                assertEquals(where, (float) k.getJSONArray("expected_score").getDouble(i), d.score, 0.0f);
                rejected += d.rejected() ? 1 : 0;
            }
        }
        assertTrue("the golden cases include rejections", rejected > 5);
    }

    @Test
    public void noOpenSetMeansPlainArgmax() throws Exception {
        OpenSet rule = OpenSet.of(new JSONObject(), java.util.Arrays.asList("a", "b"));
        assertEquals(1, rule.decide(new float[] {0.1f, 0.9f}).index);
        assertEquals(0, rule.decide(new float[] {0.5f, 0.5f}).index);
    }

    @Test
    public void evaluationFiguresMatchPython() throws Exception {
        JSONObject g = Golden.json("open_set.json").getJSONObject("figures");
        List<String> labels = strings(g.getJSONArray("labels"));
        OpenSet rule = OpenSet.of(description(g.getDouble("score_threshold"), JSONObject.NULL), labels);
        JSONArray y = g.getJSONArray("known_y");
        int[] ids = new int[y.length()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = y.getInt(i);
        }
        JSONObject mine = rule.figures(ids, rows(g.getJSONArray("known_probs")), rows(g.getJSONArray("unknown_probs")));
        JSONObject exp = g.getJSONObject("expected");
        assertEquals(exp.getDouble("auroc"), mine.getDouble("auroc"), 1e-12);
        assertEquals(exp.getDouble("fpr_at_95_tpr"), mine.getDouble("fpr_at_95_tpr"), 1e-12);
        assertEquals(exp.getDouble("ece"), mine.getJSONObject("known").getDouble("ece"), 1e-9);
        assertEquals(exp.getDouble("share_score_ge_0.9"), mine.getJSONObject("unknown").getDouble("share_score_ge_0.9"), 1e-12);
        JSONObject ua = exp.getJSONObject("unknown_accepted");
        JSONObject ma = mine.getJSONObject("unknown").getJSONObject("accepted");
        assertEquals(ua.getInt("accepted"), ma.getInt("accepted"));
        assertEquals(ua.getJSONArray("ci95").getDouble(0), ma.getJSONArray("ci95").getDouble(0), 1e-9);
        JSONObject ka = exp.getJSONObject("known_at_threshold");
        JSONObject ma2 = mine.getJSONObject("known").getJSONObject("at_threshold");
        assertEquals(ka.getJSONObject("accepted").getInt("accepted"), ma2.getJSONObject("accepted").getInt("accepted"));
        assertEquals(ka.getDouble("accuracy"), ma2.getDouble("accuracy"), 1e-12);
        assertEquals(ka.getDouble("selective_accuracy"), ma2.getDouble("selective_accuracy"), 1e-12);
    }
}
