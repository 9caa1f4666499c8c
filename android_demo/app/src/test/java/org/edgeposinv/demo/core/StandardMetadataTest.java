package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.Test;

/**
 * The fallback for models without the edgeposinv entry: standard TFLite Metadata (labels file
 * + NormalizationOptions), here as written by edgeposinv's exporter on the golden model.
 */
public class StandardMetadataTest {
    @Test
    public void labelsAndInputComeFromStandardMetadata() throws Exception {
        ModelFile f = ModelFile.parse(ByteBuffer.wrap(Golden.bytes("shapes_int8_stdmeta.tflite")));
        assertFalse(f.metadata.containsKey(ModelContract.ENTRY_NAME));
        assertTrue(f.metadata.containsKey("TFLITE_METADATA"));
        ModelContract c = ModelContract.read(f);
        assertEquals("TFLITE_METADATA", c.source);
        assertEquals(Arrays.asList("circle", "square", "triangle"), c.labels);
        assertEquals(32, c.imageSizePx);
        assertTrue("a uint8 input takes raw pixels whatever the normalisation says", c.normalizationInsideModel);
        assertNull(c.appNormalization());
        assertEquals(0f, c.normalization.mean[0], 0f);
        assertEquals(1f, c.normalization.std[2], 0f);
        assertEquals("int8", c.quantization);
    }

    @Test
    public void bothPathsPrepareTheSameTensor() throws Exception {
        ModelContract primary = ModelContract.read(Golden.model());
        ModelContract fallback = ModelContract.read(ModelFile.parse(ByteBuffer.wrap(Golden.bytes("shapes_int8_stdmeta.tflite"))));
        RgbImage src = Golden.source("model_2_triangle");
        assertEquals(0, Golden.maxAbsDiff(Preprocess.prepare(src, 1, primary).rgb, Preprocess.prepare(src, 1, fallback).rgb));
    }
}
