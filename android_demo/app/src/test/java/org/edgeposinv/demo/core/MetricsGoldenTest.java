package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Test;

/** The device report's figures equal edgeposinv.metrics on the same predictions. */
public class MetricsGoldenTest {
    private static final double EPS = 1e-12;

    @Test
    public void setFiguresMatchPython() throws Exception {
        JSONObject g = Golden.json("metrics.json");
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < g.getJSONArray("labels").length(); i++) {
            labels.add(g.getJSONArray("labels").getString(i));
        }
        JSONObject sets = g.getJSONObject("sets");
        for (String name : new String[] {"published", "wild"}) {
            JSONObject s = sets.getJSONObject(name);
            JSONArray y = s.getJSONArray("y_true");
            JSONArray probs = s.getJSONArray("probs");
            int[] ids = new int[y.length()];
            List<float[]> scores = new ArrayList<>();
            for (int i = 0; i < ids.length; i++) {
                ids[i] = y.getInt(i);
                double[] row = Golden.doubles(probs.getJSONArray(i));
                float[] f = new float[row.length];
                for (int k = 0; k < row.length; k++) {
                    f[k] = (float) row[k];
                }
                scores.add(f);
            }
            JSONObject mine = Metrics.setFigures(ids, scores, labels, 3);
            JSONObject exp = s.getJSONObject("expected");
            assertEquals(name, exp.getInt("n"), mine.getInt("n"));
            assertEquals(name, exp.getDouble("top1"), mine.getDouble("top1"), EPS);
            for (int k = 0; k < 2; k++) {
                assertEquals(name + " ci " + k, exp.getJSONArray("top1_ci95").getDouble(k),
                        mine.getJSONArray("top1_ci95").getDouble(k), 1e-9);
            }
            assertEquals(name, exp.getJSONObject("top_k").getDouble("accuracy"), mine.getJSONObject("top_k").getDouble("accuracy"), EPS);
            assertEquals(name, exp.getJSONArray("confusion").toString(), mine.getJSONArray("confusion").toString());
            for (String label : labels) {
                JSONObject e = exp.getJSONObject("per_class").getJSONObject(label);
                JSONObject m = mine.getJSONObject("per_class").getJSONObject(label);
                assertEquals(name + " " + label, e.getDouble("precision"), m.getDouble("precision"), EPS);
                assertEquals(name + " " + label, e.getDouble("recall"), m.getDouble("recall"), EPS);
                assertEquals(name + " " + label, e.getInt("n"), m.getInt("n"));
            }
        }
        JSONObject pub = sets.getJSONObject("published").getJSONObject("expected");
        JSONObject wild = sets.getJSONObject("wild").getJSONObject("expected");
        double[] gap = Metrics.difference((int) Math.round(wild.getDouble("top1") * wild.getInt("n")), wild.getInt("n"),
                (int) Math.round(pub.getDouble("top1") * pub.getInt("n")), pub.getInt("n"));
        assertEquals(g.getJSONArray("gap_wild").getDouble(0), gap[0], 1e-9);
        assertEquals(g.getJSONArray("gap_wild").getDouble(1), gap[1], 1e-9);
    }

    @Test
    public void latencyPercentilesMatchNumpy() throws Exception {
        JSONObject g = Golden.json("metrics.json");
        double[] lat = Golden.doubles(g.getJSONArray("latency_ms"));
        assertEquals(g.getJSONObject("latency_expected").getDouble("median"), Metrics.percentile(lat, 50), EPS);
        assertEquals(g.getJSONObject("latency_expected").getDouble("p90"), Metrics.percentile(lat, 90), EPS);
    }

    @Test
    public void wilsonEdgesAreZeroAndOne() {
        assertEquals(0.0, Metrics.wilson(0, 10)[0], 0.0);
        assertEquals(1.0, Metrics.wilson(10, 10)[1], 0.0);
        assertEquals(0.0, Metrics.wilson(0, 0)[0], 0.0);
    }
}
