package org.edgeposinv.demo.core;

/** YUV 4:2:0 camera frames (Android's YUV_420_888 planes) to RGB, full-range BT.601 (JFIF). */
public final class Yuv {
    private Yuv() {}

    public static RgbImage toRgb(byte[] y, byte[] u, byte[] v, int width, int height,
                                 int yRowStride, int uvRowStride, int uvPixelStride) {
        byte[] out = new byte[width * height * 3];
        for (int row = 0; row < height; row++) {
            for (int col = 0; col < width; col++) {
                int yy = y[row * yRowStride + col] & 0xff;
                int uvIndex = (row >> 1) * uvRowStride + (col >> 1) * uvPixelStride;
                int cb = (u[uvIndex] & 0xff) - 128;
                int cr = (v[uvIndex] & 0xff) - 128;
                int o = (row * width + col) * 3;
                out[o] = (byte) Preprocess.clamp((int) Math.round(yy + 1.402 * cr), 0, 255);
                out[o + 1] = (byte) Preprocess.clamp((int) Math.round(yy - 0.344136 * cb - 0.714136 * cr), 0, 255);
                out[o + 2] = (byte) Preprocess.clamp((int) Math.round(yy + 1.772 * cb), 0, 255);
            }
        }
        return new RgbImage(width, height, out);
    }
}
