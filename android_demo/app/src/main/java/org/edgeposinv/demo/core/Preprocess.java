package org.edgeposinv.demo.core;

/**
 * The input contract of docs/preprocessing.md, step for step as {@code edgeposinv.preprocess}:
 * orientation, centre square crop, resize (area averaging when shrinking, bilinear with
 * half-pixel centres when enlarging, never nearest-neighbour), uint8 RGB out.
 *
 * <p>Parity with OpenCV (checked against the golden vectors): orientation, crop,
 * integer-ratio area shrinking and bilinear enlarging follow OpenCV's 8-bit arithmetic and
 * are exact on every golden case; fractional area shrinking is computed in double precision
 * and may differ by at most 1 per value (the documented tolerance).
 */
public final class Preprocess {
    private Preprocess() {}

    /** Orientation applied, centre square crop, resize: the {@code size x size} uint8 RGB input. */
    public static RgbImage prepare(RgbImage stored, int exifOrientation, ModelContract contract) {
        return prepare(stored, exifOrientation, contract.imageSizePx);
    }

    public static RgbImage prepare(RgbImage stored, int exifOrientation, int sizePx) {
        return resizeSquare(centerSquareCrop(Orientation.apply(stored, exifOrientation)), sizePx);
    }

    /** {@code side = min(H, W)}, offset {@code ((W - side) / 2, (H - side) / 2)}. */
    public static RgbImage centerSquareCrop(RgbImage img) {
        int side = Math.min(img.width, img.height);
        int x0 = (img.width - side) / 2;
        int y0 = (img.height - side) / 2;
        if (side == img.width && side == img.height) {
            return img;
        }
        byte[] out = new byte[side * side * 3];
        for (int y = 0; y < side; y++) {
            System.arraycopy(img.rgb, ((y0 + y) * img.width + x0) * 3, out, y * side * 3, side * 3);
        }
        return new RgbImage(side, side, out);
    }

    /** Resize a square image: area when shrinking, bilinear when enlarging. */
    public static RgbImage resizeSquare(RgbImage square, int sizePx) {
        if (square.width != square.height) {
            throw new IllegalArgumentException("resizeSquare needs a square image, got " + square.width + "x" + square.height);
        }
        if (square.width == sizePx) {
            return square;
        }
        return square.width > sizePx ? resizeArea(square, sizePx) : resizeBilinear(square, sizePx);
    }

    /**
     * Area averaging (OpenCV {@code INTER_AREA} when shrinking): each output pixel is the
     * coverage-weighted mean of the source pixels under it.
     */
    public static RgbImage resizeArea(RgbImage src, int size) {
        int side = src.width;
        if (side % size == 0) {
            return resizeAreaInteger(src, size, side / size);
        }
        double scale = (double) side / size;
        int[][] index = new int[size][];
        double[][] weight = new double[size][];
        for (int d = 0; d < size; d++) {
            double f0 = d * scale;
            double f1 = f0 + scale;
            int s0 = (int) Math.floor(f0);
            int s1 = Math.min(side, (int) Math.ceil(f1));
            int n = s1 - s0;
            index[d] = new int[n];
            weight[d] = new double[n];
            for (int k = 0; k < n; k++) {
                int s = s0 + k;
                double cover = Math.min(f1, s + 1) - Math.max(f0, s);
                index[d][k] = s;
                weight[d][k] = Math.max(0.0, cover) / scale;
            }
        }
        byte[] out = new byte[size * size * 3];
        double[] acc = new double[3];
        for (int dy = 0; dy < size; dy++) {
            for (int dx = 0; dx < size; dx++) {
                acc[0] = acc[1] = acc[2] = 0.0;
                for (int ky = 0; ky < index[dy].length; ky++) {
                    int row = index[dy][ky] * side;
                    double wy = weight[dy][ky];
                    for (int kx = 0; kx < index[dx].length; kx++) {
                        double w = wy * weight[dx][kx];
                        int p = (row + index[dx][kx]) * 3;
                        acc[0] += w * (src.rgb[p] & 0xff);
                        acc[1] += w * (src.rgb[p + 1] & 0xff);
                        acc[2] += w * (src.rgb[p + 2] & 0xff);
                    }
                }
                int o = (dy * size + dx) * 3;
                for (int c = 0; c < 3; c++) {
                    out[o + c] = (byte) clamp((int) Math.rint(acc[c]), 0, 255);
                }
            }
        }
        return new RgbImage(size, size, out);
    }

    /** Whole-number ratio: the exact mean of each {@code k x k} block, rounded half up. */
    private static RgbImage resizeAreaInteger(RgbImage src, int size, int k) {
        int side = src.width;
        int area = k * k;
        byte[] out = new byte[size * size * 3];
        for (int dy = 0; dy < size; dy++) {
            for (int dx = 0; dx < size; dx++) {
                int[] sum = new int[3];
                for (int y = dy * k; y < dy * k + k; y++) {
                    for (int x = dx * k; x < dx * k + k; x++) {
                        int p = (y * side + x) * 3;
                        sum[0] += src.rgb[p] & 0xff;
                        sum[1] += src.rgb[p + 1] & 0xff;
                        sum[2] += src.rgb[p + 2] & 0xff;
                    }
                }
                int o = (dy * size + dx) * 3;
                for (int c = 0; c < 3; c++) {
                    out[o + c] = (byte) ((sum[c] + area / 2) / area);
                }
            }
        }
        return new RgbImage(size, size, out);
    }

    /**
     * Bilinear with half-pixel centres (OpenCV {@code INTER_LINEAR}):
     * {@code src = (dst + 0.5) * scale - 0.5}, clamped at the border. The arithmetic follows
     * OpenCV's 8-bit path so results match bit for bit: 11-bit fixed-point weights, horizontal
     * weights clamped at the border, vertical weights not (the rows are clamped instead), and
     * the vertical blend {@code ((b0 * (r0 >> 4)) >> 16) + ((b1 * (r1 >> 4)) >> 16)} rounded by 2 bits.
     */
    public static RgbImage resizeBilinear(RgbImage src, int size) {
        int side = src.width;
        int[][] x = linearTaps(side, size, true);
        int[][] y = linearTaps(side, size, false);
        int[] h0 = new int[size * 3];
        int[] h1 = new int[size * 3];
        byte[] out = new byte[size * size * 3];
        for (int dy = 0; dy < size; dy++) {
            horizontal(src, y[0][dy], x, h0);
            horizontal(src, y[1][dy], x, h1);
            int b0 = y[2][dy];
            int b1 = y[3][dy];
            for (int i = 0; i < size * 3; i++) {
                int v = (((b0 * (h0[i] >> 4)) >> 16) + ((b1 * (h1[i] >> 4)) >> 16) + 2) >> 2;
                out[dy * size * 3 + i] = (byte) clamp(v, 0, 255);
            }
        }
        return new RgbImage(size, size, out);
    }

    /** Rows {s0, s1} and weights {a0, a1} (scaled by 2048) of each output position. */
    private static int[][] linearTaps(int side, int size, boolean clampWeights) {
        double scale = (double) side / size;
        int[][] t = new int[4][size];
        for (int d = 0; d < size; d++) {
            float f = (float) ((d + 0.5) * scale - 0.5);
            int s = (int) Math.floor(f);
            f -= s;
            if (clampWeights && s < 0) {
                f = 0;
                s = 0;
            }
            if (clampWeights && s >= side - 1) {
                f = 0;
                s = side - 1;
            }
            t[0][d] = clamp(s, 0, side - 1);
            t[1][d] = clamp(s + 1, 0, side - 1);
            t[2][d] = (int) Math.rint((1.0f - f) * 2048f);
            t[3][d] = (int) Math.rint(f * 2048f);
        }
        return t;
    }

    private static void horizontal(RgbImage src, int row, int[][] x, int[] out) {
        int base = row * src.width * 3;
        int n = out.length / 3;
        for (int dx = 0; dx < n; dx++) {
            int p0 = base + x[0][dx] * 3;
            int p1 = base + x[1][dx] * 3;
            for (int c = 0; c < 3; c++) {
                out[dx * 3 + c] = (src.rgb[p0 + c] & 0xff) * x[2][dx] + (src.rgb[p1 + c] & 0xff) * x[3][dx];
            }
        }
    }

    static int clamp(int v, int lo, int hi) {
        return v < lo ? lo : (v > hi ? hi : v);
    }
}
