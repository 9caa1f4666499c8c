package org.edgeposinv.demo.core;

/** An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (HWC). */
public final class RgbImage {
    public final int width;
    public final int height;
    /** {@code width * height * 3} samples, unsigned (read with {@code & 0xff}). */
    public final byte[] rgb;

    public RgbImage(int width, int height, byte[] rgb) {
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        if (rgb.length != width * height * 3) {
            throw new IllegalArgumentException(
                    "expected " + (width * height * 3) + " RGB samples for " + width + "x" + height + ", got " + rgb.length);
        }
        this.width = width;
        this.height = height;
        this.rgb = rgb;
    }

    /** From packed ARGB ints (Android's {@code Bitmap.getPixels}, Java's {@code BufferedImage.getRGB}). */
    public static RgbImage fromArgb(int width, int height, int[] argb) {
        byte[] out = new byte[width * height * 3];
        for (int i = 0; i < width * height; i++) {
            int p = argb[i];
            out[3 * i] = (byte) (p >> 16);
            out[3 * i + 1] = (byte) (p >> 8);
            out[3 * i + 2] = (byte) p;
        }
        return new RgbImage(width, height, out);
    }

    /** Packed opaque ARGB ints, for showing the image (e.g. the "model input" view). */
    public int[] toArgb() {
        int[] out = new int[width * height];
        for (int i = 0; i < out.length; i++) {
            out[i] = 0xff000000 | (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | (rgb[3 * i + 2] & 0xff);
        }
        return out;
    }

    public int sample(int x, int y, int channel) {
        return rgb[(y * width + x) * 3 + channel] & 0xff;
    }
}
