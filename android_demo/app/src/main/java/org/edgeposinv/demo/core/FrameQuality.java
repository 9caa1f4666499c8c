package org.edgeposinv.demo.core;

/**
 * The capture quality figures of the desktop tool ({@code edgeposinv.capture.quality}):
 * sharpness = variance of the Laplacian of the grey frame, exposure flag dark/bright/ok.
 */
public final class FrameQuality {
    private FrameQuality() {}

    /** Grey levels exactly as OpenCV's RGB→grey (weights 0.299/0.587/0.114 in 15-bit fixed point). */
    public static int[] gray(RgbImage img) {
        int[] g = new int[img.width * img.height];
        for (int i = 0; i < g.length; i++) {
            int r = img.rgb[3 * i] & 0xff;
            int gr = img.rgb[3 * i + 1] & 0xff;
            int b = img.rgb[3 * i + 2] & 0xff;
            g[i] = (r * 9798 + gr * 19235 + b * 3735 + (1 << 14)) >> 15;
        }
        return g;
    }

    private static int reflect101(int i, int n) {
        if (n == 1) {
            return 0;
        }
        if (i < 0) {
            return -i;
        }
        return i >= n ? 2 * n - 2 - i : i;
    }

    /** Variance of the 4-neighbour Laplacian (OpenCV's default border, reflect-101). */
    public static double sharpness(int[] gray, int width, int height) {
        double sum = 0;
        double sumSq = 0;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int c = gray[y * width + x];
                int l = gray[y * width + reflect101(x - 1, width)];
                int r = gray[y * width + reflect101(x + 1, width)];
                int u = gray[reflect101(y - 1, height) * width + x];
                int d = gray[reflect101(y + 1, height) * width + x];
                double v = l + r + u + d - 4.0 * c;
                sum += v;
                sumSq += v * v;
            }
        }
        double n = (double) width * height;
        double mean = sum / n;
        return sumSq / n - mean * mean;
    }

    /** {@code "dark"} or {@code "bright"} when 95% of the pixels are near black or white, else {@code "ok"}. */
    public static String exposure(int[] gray) {
        int dark = 0;
        int bright = 0;
        for (int v : gray) {
            if (v <= 20) {
                dark++;
            } else if (v >= 235) {
                bright++;
            }
        }
        if (dark >= 0.95 * gray.length) {
            return "dark";
        }
        return bright >= 0.95 * gray.length ? "bright" : "ok";
    }
}
