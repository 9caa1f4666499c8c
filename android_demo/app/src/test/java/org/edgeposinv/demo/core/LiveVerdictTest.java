package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.json.JSONObject;
import org.junit.Test;

/** Live mode's display decision: "none of the classes" only when the model's open-set rule rejects. */
public class LiveVerdictTest {
    private static final List<String> LABELS = Arrays.asList("paper", "rock", "scissors");
    private static final float[] UNSURE = {0.30f, 0.45f, 0.25f};
    private static final float[] SURE = {0.05f, 0.90f, 0.05f};

    private static OpenSet rule(Object threshold, Object reserved, List<String> labels) throws Exception {
        JSONObject d = new JSONObject().put("open_set", new JSONObject().put("score_threshold", threshold)
                .put("temperature", 1.0).put("reserved_label", reserved));
        return OpenSet.of(d, labels);
    }

    @Test
    public void aModelWithoutARuleShowsTheTopLabelsAsBefore() {
        LiveVerdict v = LiveVerdict.of(OpenSet.of(new JSONObject(), LABELS), LABELS, UNSURE, 3);
        assertFalse(v.none);
        assertEquals("1. rock  45.0%\n2. paper  30.0%\n3. scissors  25.0%\n", v.text.replace(System.lineSeparator(), "\n"));
        assertEquals("nothing is dimmed", v.text.length(), v.dimFrom);
    }

    @Test
    public void belowTheThresholdItSaysNoneWithTheTopScoreDimmed() throws Exception {
        LiveVerdict v = LiveVerdict.of(rule(0.6, JSONObject.NULL, LABELS), LABELS, UNSURE, 3);
        assertTrue(v.none);
        String text = v.text.replace(System.lineSeparator(), "\n");
        assertTrue(text, text.startsWith(LiveVerdict.NONE_TEXT + "\n"));
        assertFalse("the wrong label is not listed as an answer", text.contains("1. rock"));
        assertEquals("(top: rock  45.0%)", v.text.substring(v.dimFrom).trim());
    }

    @Test
    public void atOrAboveTheThresholdItShowsTheLabels() throws Exception {
        LiveVerdict v = LiveVerdict.of(rule(0.6, JSONObject.NULL, LABELS), LABELS, SURE, 2);
        assertFalse(v.none);
        assertTrue(v.text, v.text.startsWith("1. rock  90.0%"));
        assertEquals(2, v.text.split("\\R").length);
    }

    @Test
    public void theReservedOutputRejectsAndIsNeverListedAsAClass() throws Exception {
        List<String> labels = Arrays.asList("_background", "paper", "rock");
        OpenSet r = rule(JSONObject.NULL, "_background", labels);
        LiveVerdict none = LiveVerdict.of(r, labels, new float[] {0.7f, 0.2f, 0.1f}, 3);
        assertTrue(none.none);
        assertEquals("(top: paper  20.0%)", none.text.substring(none.dimFrom).trim());
        LiveVerdict known = LiveVerdict.of(r, labels, new float[] {0.3f, 0.6f, 0.1f}, 3);
        assertFalse(known.none);
        assertFalse(known.text, known.text.contains("_background"));
        assertEquals(2, known.text.split("\\R").length);
    }
}
