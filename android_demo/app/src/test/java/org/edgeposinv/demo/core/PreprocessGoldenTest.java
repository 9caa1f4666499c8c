package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Test;

/** The Java input contract reproduces the tensors Python's own preprocessing produced. */
public class PreprocessGoldenTest {
    @Test
    public void everyGoldenCaseMatchesWithinItsTolerance() throws Exception {
        JSONArray cases = Golden.json("preprocess.json").getJSONArray("cases");
        assertTrue("expected at least 15 golden cases, found " + cases.length(), cases.length() >= 15);
        StringBuilder summary = new StringBuilder();
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            String name = c.getString("name");
            RgbImage stored = Golden.source(name);
            RgbImage oriented = Orientation.apply(stored, c.getInt("orientation"));
            JSONArray hw = c.getJSONArray("oriented_hw");
            assertEquals(name + ": oriented height", hw.getInt(0), oriented.height);
            assertEquals(name + ": oriented width", hw.getInt(1), oriented.width);
            RgbImage prepared = Preprocess.prepare(stored, c.getInt("orientation"), c.getInt("size_px"));
            int diff = Golden.maxAbsDiff(prepared.rgb, Golden.tensor(name));
            int tolerance = c.getInt("tolerance");
            summary.append(String.format("%-20s %-8s max|diff|=%d (tolerance %d)%n", name, c.getString("resize"), diff, tolerance));
            assertTrue(name + " (" + c.getString("resize") + "): max |Java - Python| = " + diff + " > tolerance " + tolerance,
                    diff <= tolerance);
        }
        System.out.print(summary);
    }

    @Test
    public void cropAndOrientationAreExact() throws Exception {
        JSONArray cases = Golden.json("preprocess.json").getJSONArray("cases");
        int checked = 0;
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            if (!"none".equals(c.getString("resize"))) {
                continue;
            }
            RgbImage prepared = Preprocess.prepare(Golden.source(c.getString("name")), c.getInt("orientation"), c.getInt("size_px"));
            assertEquals(c.getString("name"), 0, Golden.maxAbsDiff(prepared.rgb, Golden.tensor(c.getString("name"))));
            checked++;
        }
        assertTrue("no crop-only case in the golden set", checked > 0);
    }

    @Test
    public void integerRatioAreaShrinkIsExact() throws Exception {
        RgbImage prepared = Preprocess.prepare(Golden.source("shrink_int_ratio"), 1, 32);
        assertEquals(0, Golden.maxAbsDiff(prepared.rgb, Golden.tensor("shrink_int_ratio")));
    }

    @Test
    public void sensorRotationMapsToExifOrientation() {
        assertEquals(1, Orientation.fromRotationDegrees(0));
        assertEquals(6, Orientation.fromRotationDegrees(90));
        assertEquals(3, Orientation.fromRotationDegrees(180));
        assertEquals(8, Orientation.fromRotationDegrees(270));
        assertEquals(8, Orientation.fromRotationDegrees(-90));
    }

    @Test(expected = IllegalArgumentException.class)
    public void oddRotationIsRefused() {
        Orientation.fromRotationDegrees(45);
    }
}
