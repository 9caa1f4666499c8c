package org.edgeposinv.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Test;

/** A real .tflite exported by Python, read by the Java metadata code, and the end-to-end path. */
public class ModelGoldenTest {
    @Test
    public void contractOfTheExportedModelMatchesPython() throws Exception {
        JSONObject g = Golden.json("preprocess.json");
        ModelContract c = ModelContract.read(Golden.model());
        assertEquals("edgeposinv.model", c.source);
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < g.getJSONArray("labels").length(); i++) {
            labels.add(g.getJSONArray("labels").getString(i));
        }
        assertEquals(Arrays.asList("circle", "square", "triangle"), c.labels);
        assertEquals(labels, c.labels);
        JSONObject contract = g.getJSONObject("contract");
        assertEquals(contract.getInt("image_size_px"), c.imageSizePx);
        assertTrue(c.normalizationInsideModel);
        assertNull("the model normalises inside: the app must feed raw pixels", c.appNormalization());
        JSONArray mean = contract.getJSONArray("normalization_mean");
        JSONArray std = contract.getJSONArray("normalization_std");
        for (int i = 0; i < 3; i++) {
            assertEquals((float) mean.getDouble(i), c.normalization.mean[i], 0f);
            assertEquals((float) std.getDouble(i), c.normalization.std[i], 0f);
        }
        assertEquals(g.getJSONObject("description").getString("quantization"), c.quantization);
        assertEquals(contract.length(), c.inputJson.length());
        for (java.util.Iterator<String> it = contract.keys(); it.hasNext();) {
            String key = it.next();
            assertEquals("contract." + key, contract.get(key).toString(), c.inputJson.get(key).toString());
        }
        JSONObject in = g.getJSONObject("input");
        JSONObject out = g.getJSONObject("output");
        ModelFile f = c.file;
        assertEquals(in.getString("dtype"), f.input.dtype);
        assertEquals((float) in.getDouble("scale"), f.input.scale, 0f);
        assertEquals(in.getInt("zero_point"), f.input.zeroPoint);
        assertArrayEquals(new int[] {1, 32, 32, 3}, f.input.shape);
        assertEquals(out.getString("dtype"), f.output.dtype);
        assertEquals((float) out.getDouble("scale"), f.output.scale, 0f);
        assertEquals(out.getInt("zero_point"), f.output.zeroPoint);
        assertArrayEquals(new int[] {1, 3}, f.output.shape);
    }

    @Test
    public void modelCasesGoFromPixelsToTheSameTopThree() throws Exception {
        ModelContract c = ModelContract.read(Golden.model());
        JSONArray cases = Golden.json("preprocess.json").getJSONArray("cases");
        int checked = 0;
        ByteBuffer input = ByteBuffer.allocateDirect(c.file.input.elementCount() * c.file.input.bytesPerElement())
                .order(ByteOrder.nativeOrder());
        for (int i = 0; i < cases.length(); i++) {
            JSONObject k = cases.getJSONObject(i);
            if (!k.has("raw_output")) {
                continue;
            }
            String name = k.getString("name");
            RgbImage prepared = Preprocess.prepare(Golden.source(name), 1, c);
            byte[] expected = Golden.tensor(name);
            assertTrue(name + " tensor", Golden.maxAbsDiff(prepared.rgb, expected) <= k.getInt("tolerance"));
            Tensors.fillInput(prepared, c.file.input, c.appNormalization(), input);
            byte[] fed = new byte[input.remaining()];
            input.get(fed);
            assertArrayEquals(name + ": uint8 input with scale 1 / zero point 0 is the pixels unchanged", prepared.rgb, fed);
            float[] probs = Tensors.dequantize(Golden.doubles(k.getJSONArray("raw_output")), c.file.output);
            double[] p = Golden.doubles(k.getJSONArray("probabilities"));
            for (int j = 0; j < p.length; j++) {
                assertEquals(name + " probability " + j, (float) p[j], probs[j], 0f);
            }
            int[] top = Tensors.topK(probs, 3);
            JSONArray top3 = k.getJSONArray("top3");
            for (int j = 0; j < 3; j++) {
                assertEquals(name + " top-" + (j + 1), top3.getString(j), c.labels.get(top[j]));
            }
            checked++;
        }
        assertEquals(5, checked);
    }

    @Test
    public void truncatedModelIsRefusedWithAClearMessage() throws Exception {
        byte[] whole = Golden.bytes("shapes_int8.tflite");
        try {
            ModelFile.parse(ByteBuffer.wrap(Arrays.copyOf(whole, 6)));
            fail("a 6-byte model was accepted");
        } catch (ModelException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("truncated"));
        }
        byte[] notModel = "this is a text file, not a model".getBytes("UTF-8");
        try {
            ModelFile.parse(ByteBuffer.wrap(notModel));
            fail("a text file was accepted");
        } catch (ModelException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("TFL3"));
        }
    }

    @Test
    public void aModelWithoutDescriptionSaysHowToFixIt() throws Exception {
        ModelFile f = Golden.model();
        f.metadata.remove(ModelContract.ENTRY_NAME);
        assertFalse(f.metadata.containsKey("TFLITE_METADATA"));
        try {
            ModelContract.read(f);
            fail("a model without labels was accepted");
        } catch (ModelException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("edgeposinv export"));
        }
    }

    @Test
    public void aForeignPolicyIsRefused() throws Exception {
        ModelFile f = Golden.model();
        JSONObject d = new JSONObject(new String(f.metadata.get(ModelContract.ENTRY_NAME), "UTF-8"));
        d.getJSONObject("input").put("policy_version", 2);
        try {
            ModelContract.fromEntry(f, d.toString());
            fail("policy 2 was accepted");
        } catch (ModelException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("policy 2"));
        }
    }
}
