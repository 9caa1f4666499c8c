package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Test;

/** Capture-manifest quality figures equal the desktop tool's (OpenCV grey, Laplacian variance). */
public class FrameQualityTest {
    @Test
    public void grayAndSharpnessAndExposureMatchOpenCv() throws Exception {
        JSONArray cases = Golden.json("quality.json").getJSONArray("cases");
        double sharp = 0;
        double blurred = 0;
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            int w = c.getInt("width");
            int h = c.getInt("height");
            JSONArray rgb = c.getJSONArray("rgb");
            byte[] px = new byte[rgb.length()];
            for (int k = 0; k < px.length; k++) {
                px[k] = (byte) rgb.getInt(k);
            }
            int[] gray = FrameQuality.gray(new RgbImage(w, h, px));
            JSONArray expected = c.getJSONArray("gray");
            for (int k = 0; k < gray.length; k++) {
                assertEquals(c.getString("name") + " grey " + k, expected.getInt(k), gray[k]);
            }
            double s = FrameQuality.sharpness(gray, w, h);
            assertEquals(c.getString("name"), c.getDouble("sharpness"), s, 1e-6 * Math.max(1, s));
            assertEquals(c.getString("name"), c.getString("exposure"), FrameQuality.exposure(gray));
            if ("pattern".equals(c.getString("name"))) {
                sharp = s;
            } else if ("blurred".equals(c.getString("name"))) {
                blurred = s;
            }
        }
        assertTrue("blur must lower the sharpness: " + blurred + " vs " + sharp, blurred < sharp / 4);
    }

    @Test
    public void fullRangeYuvToRgb() {
        // JFIF full range: Y=76, Cb=85, Cr=255 is pure red; Y=128, Cb=Cr=128 is mid grey.
        byte[] y = {76, 76, (byte) 128, (byte) 128};
        byte[] u = {85, 0, (byte) 128};  // pixel stride 2: every other byte belongs to this plane
        byte[] v = {(byte) 255, 0, (byte) 128};
        RgbImage img = Yuv.toRgb(y, u, v, 4, 1, 4, 2, 2);
        assertTrue("red " + img.sample(0, 0, 0), img.sample(0, 0, 0) >= 254);  // 8-bit YCbCr rounding
        assertTrue(img.sample(0, 0, 1) <= 1 && img.sample(0, 0, 2) <= 1);
        assertEquals(128, img.sample(2, 0, 0));
        assertEquals(128, img.sample(3, 0, 1));
        assertEquals(128, img.sample(3, 0, 2));
    }
}
