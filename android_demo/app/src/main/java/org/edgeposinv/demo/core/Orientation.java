package org.edgeposinv.demo.core;

/**
 * Applying an orientation so the image is upright, as OpenCV's {@code IMREAD_COLOR} applies
 * the EXIF orientation tag (values 1..8) on the host. A camera frame's sensor rotation
 * (0/90/180/270 degrees clockwise) is the same thing as EXIF 1/6/3/8.
 */
public final class Orientation {
    private Orientation() {}

    /** EXIF orientation value equivalent to rotating the frame clockwise by {@code degrees}. */
    public static int fromRotationDegrees(int degrees) {
        switch (((degrees % 360) + 360) % 360) {
            case 0: return 1;
            case 90: return 6;
            case 180: return 3;
            case 270: return 8;
            default:
                throw new IllegalArgumentException("rotation must be a multiple of 90 degrees, got " + degrees);
        }
    }

    /** The upright image for an EXIF orientation value (1 = as stored; unknown values count as 1). */
    public static RgbImage apply(RgbImage src, int exifOrientation) {
        if (exifOrientation < 2 || exifOrientation > 8) {
            return src;
        }
        boolean swap = exifOrientation >= 5;
        int w = swap ? src.height : src.width;
        int h = swap ? src.width : src.height;
        byte[] out = new byte[src.rgb.length];
        int sw = src.width;
        int sh = src.height;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int sx;
                int sy;
                switch (exifOrientation) {
                    case 2: sx = sw - 1 - x; sy = y; break;            // mirrored
                    case 3: sx = sw - 1 - x; sy = sh - 1 - y; break;   // 180
                    case 4: sx = x; sy = sh - 1 - y; break;            // flipped vertically
                    case 5: sx = y; sy = x; break;                     // transposed
                    case 6: sx = y; sy = sh - 1 - x; break;            // 90 clockwise
                    case 7: sx = sw - 1 - y; sy = sh - 1 - x; break;   // transversed
                    default: sx = sw - 1 - y; sy = x; break;           // 8: 90 counter-clockwise
                }
                System.arraycopy(src.rgb, (sy * sw + sx) * 3, out, (y * w + x) * 3, 3);
            }
        }
        return new RgbImage(w, h, out);
    }
}
