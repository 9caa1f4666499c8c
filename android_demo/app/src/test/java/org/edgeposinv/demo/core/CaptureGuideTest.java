package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** The same schedule and cell names as the desktop guide (edgeposinv.capture.guide). */
public class CaptureGuideTest {
    @Test
    public void walksEveryCellThenTheNextAngle() throws Exception {
        CaptureGuide g = CaptureGuide.standard();
        assertEquals(36, g.stepCount());
        assertEquals("top-left, upright", g.step(0).prompt());
        assertEquals("top-centre, upright", g.step(1).prompt());
        assertEquals("centre, upright", g.step(4).prompt());
        assertEquals("middle-left, upright", g.step(3).prompt());
        assertEquals("bottom-right, upright", g.step(8).prompt());
        assertEquals("top-left, tilted left", g.step(9).prompt());
        assertEquals("bottom-right, upside down", g.step(35).prompt());
        assertEquals("top-left, upright", g.step(36).prompt());
        org.json.JSONObject j = g.step(5).toJson();  // key order differs between org.json builds
        assertEquals("[3,3]", j.getJSONArray("grid").toString());
        assertEquals("[1,2]", j.getJSONArray("cell").toString());
        assertEquals("middle-right", j.getString("cell_name"));
        assertEquals("upright", j.getString("angle"));
        assertEquals(4, j.length());
    }

    @Test
    public void promptsABackgroundSessionLikeTheDesktop() {
        CaptureGuide g = new CaptureGuide(2, 2, CaptureGuide.DEFAULT_ANGLES, 1);
        assertEquals("top-left, the empty scene", g.step(0, "_background").prompt());
        assertEquals("top-left, other objects", g.step(4, "_background").prompt());
        assertEquals("bottom-right, hands doing nothing", g.step(11, "_background").prompt());
        assertEquals("top-left, the empty scene", g.step(12, "_background").prompt());
        assertEquals("top-left, upright", g.step(0, "mug").prompt());
    }

    @Test
    public void namesSmallAndLargeGrids() {
        assertEquals("centre", CaptureGuide.cellName(0, 0, 1, 1));
        assertEquals("left", CaptureGuide.cellName(0, 0, 1, 2));
        assertEquals("bottom", CaptureGuide.cellName(1, 0, 2, 1));
        assertEquals("r2c4", CaptureGuide.cellName(1, 3, 4, 4));
    }
}
