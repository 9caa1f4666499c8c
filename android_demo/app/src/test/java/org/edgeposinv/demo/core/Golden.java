package org.edgeposinv.demo.core;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import javax.imageio.ImageIO;
import org.json.JSONArray;
import org.json.JSONObject;

/** Access to tests/golden (written by tests/golden/make_golden.py from the Python side). */
public final class Golden {
    private Golden() {}

    public static File dir() {
        String prop = System.getProperty("edgeposinv.golden");
        if (prop != null) {
            return new File(prop);
        }
        for (File d = new File(System.getProperty("user.dir")).getAbsoluteFile(); d != null; d = d.getParentFile()) {
            File g = new File(d, "tests/golden");
            if (new File(g, "preprocess.json").isFile()) {
                return g;
            }
        }
        throw new IllegalStateException("tests/golden not found above " + System.getProperty("user.dir")
                + "; set -Dedgeposinv.golden=PATH");
    }

    static JSONObject json(String name) throws Exception {
        return new JSONObject(new String(Files.readAllBytes(new File(dir(), name).toPath()), StandardCharsets.UTF_8));
    }

    static byte[] bytes(String name) throws IOException {
        return Files.readAllBytes(new File(dir(), name).toPath());
    }

    static ModelFile model() throws IOException {
        return ModelFile.parse(ByteBuffer.wrap(bytes("shapes_int8.tflite")));
    }

    /** A PNG decoded losslessly by the JDK, as RGB. */
    static RgbImage png(File file) throws IOException {
        BufferedImage img = ImageIO.read(file);
        if (img == null) {
            throw new IOException("not an image: " + file);
        }
        int w = img.getWidth();
        int h = img.getHeight();
        return RgbImage.fromArgb(w, h, img.getRGB(0, 0, w, h, null, 0, w));
    }

    static RgbImage source(String caseName) throws IOException {
        return png(new File(dir(), "images/" + caseName + ".src.png"));
    }

    static byte[] tensor(String caseName) throws IOException {
        return bytes("images/" + caseName + ".tensor.bin");
    }

    static int maxAbsDiff(byte[] a, byte[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " != " + b.length);
        }
        int m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((a[i] & 0xff) - (b[i] & 0xff)));
        }
        return m;
    }

    static double[] doubles(JSONArray a) throws Exception {
        double[] v = new double[a.length()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.getDouble(i);
        }
        return v;
    }
}
