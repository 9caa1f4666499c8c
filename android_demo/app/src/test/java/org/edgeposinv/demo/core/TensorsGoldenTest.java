package org.edgeposinv.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Test;

/** Quantising the input and dequantising the output exactly as Python does. */
public class TensorsGoldenTest {
    @Test
    public void quantizeMatchesPythonExactly() throws Exception {
        JSONObject g = Golden.json("quantize.json");
        JSONArray pixels = g.getJSONArray("pixels");
        JSONArray cases = g.getJSONArray("cases");
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            TensorSpec spec = new TensorSpec(new int[] {pixels.length()}, c.getString("dtype"),
                    (float) c.getDouble("scale"), c.getInt("zero_point"));
            JSONArray expected = c.getJSONArray("expected");
            for (int k = 0; k < pixels.length(); k++) {
                assertEquals(spec + " pixel " + pixels.getInt(k), expected.getDouble(k),
                        Tensors.quantize(pixels.getInt(k), spec), 0.0);
            }
        }
    }

    @Test
    public void fillInputWritesTheQuantizedBytes() throws Exception {
        RgbImage img = new RgbImage(2, 1, new byte[] {0, 10, (byte) 200, (byte) 255, 1, 127});
        TensorSpec int8 = new TensorSpec(new int[] {1, 1, 2, 3}, "int8", 1f, -128);
        ByteBuffer buf = ByteBuffer.allocateDirect(6).order(ByteOrder.nativeOrder());
        Tensors.fillInput(img, int8, null, buf);
        byte[] out = new byte[6];
        buf.get(out);
        assertArrayEquals(new byte[] {-128, -118, 72, 127, -127, -1}, out);
        TensorSpec f32 = new TensorSpec(new int[] {1, 1, 2, 3}, "float32", 0f, 0);
        ByteBuffer fb = ByteBuffer.allocateDirect(24).order(ByteOrder.nativeOrder());
        ModelContract.Normalization norm = new ModelContract.Normalization(
                new float[] {127.5f, 127.5f, 127.5f}, new float[] {127.5f, 127.5f, 127.5f});
        Tensors.fillInput(img, f32, norm, fb);
        assertEquals(-1.0f, fb.getFloat(0), 0f);
        assertEquals(1.0f, fb.getFloat(12), 0f);
    }

    @Test
    public void theModelInputViewDecodesTheTensorBackToThePixels() throws Exception {
        RgbImage img = Golden.source("crop_only");
        RgbImage prepared = Preprocess.prepare(img, 1, 32);
        ModelContract.Normalization norm = new ModelContract.Normalization(
                new float[] {127.5f, 127.5f, 127.5f}, new float[] {127.5f, 127.5f, 127.5f});
        String[][] specs = {{"uint8", "1", "0"}, {"int8", "1", "-128"}, {"float32", "0", "0"}};
        for (String[] s : specs) {
            TensorSpec spec = new TensorSpec(new int[] {1, 32, 32, 3}, s[0], Float.parseFloat(s[1]), Integer.parseInt(s[2]));
            ByteBuffer buf = ByteBuffer.allocateDirect(spec.elementCount() * spec.bytesPerElement()).order(ByteOrder.nativeOrder());
            ModelContract.Normalization n = "float32".equals(s[0]) ? norm : null;
            Tensors.fillInput(prepared, spec, n, buf);
            assertArrayEquals(spec.toString(), prepared.rgb, Tensors.inputToImage(buf, spec, n).rgb);
        }
    }

    @Test
    public void dequantizeAndTopKMatchPython() throws Exception {
        JSONArray cases = Golden.json("dequantize.json").getJSONArray("cases");
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            double[] raw = Golden.doubles(c.getJSONArray("raw"));
            TensorSpec spec = new TensorSpec(new int[] {1, raw.length}, c.getString("dtype"),
                    (float) c.getDouble("scale"), c.getInt("zero_point"));
            float[] probs = Tensors.dequantize(raw, spec);
            double[] expected = Golden.doubles(c.getJSONArray("probabilities"));
            for (int k = 0; k < raw.length; k++) {
                assertEquals(spec + " value " + k, (float) expected[k], probs[k], 0f);
            }
            JSONArray top = c.getJSONArray("top_k");
            int[] mine = Tensors.topK(probs, top.length());
            for (int k = 0; k < top.length(); k++) {
                assertEquals(spec + " top-" + (k + 1), top.getInt(k), mine[k]);
            }
        }
    }
}
