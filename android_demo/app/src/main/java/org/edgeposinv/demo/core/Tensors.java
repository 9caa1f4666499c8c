package org.edgeposinv.demo.core;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Filling the input tensor and reading the output tensor, with the same arithmetic as
 * {@code edgeposinv.preprocess.quantize_input} and {@code TFLiteClassifier.dequantize}
 * (float32 arithmetic, round half to even, clamp to the type's range).
 */
public final class Tensors {
    private Tensors() {}

    /** The value an input tensor of {@code spec} receives for a uint8 pixel value. */
    public static double quantize(int pixel, TensorSpec spec) {
        if (TensorSpec.FLOAT32.equals(spec.dtype)) {
            return pixel;
        }
        if (spec.scale == 0f) {  // an unquantized integer input takes the raw values
            return TensorSpec.INT8.equals(spec.dtype) ? (byte) pixel : pixel;
        }
        float q = (float) Math.rint((float) pixel / spec.scale) + spec.zeroPoint;
        int lo = TensorSpec.INT8.equals(spec.dtype) ? -128 : 0;
        int hi = TensorSpec.INT8.equals(spec.dtype) ? 127 : 255;
        return Math.max(lo, Math.min(hi, (int) q));
    }

    /**
     * Write a prepared image into {@code out} (native order, positioned at 0) as {@code spec}
     * wants it. A float32 tensor gets {@code (x - mean) / std} when the model does not
     * normalise inside ({@code normalize}), else the raw 0..255 values.
     */
    public static void fillInput(RgbImage pixels, TensorSpec spec, ModelContract.Normalization normalize, ByteBuffer out) {
        int n = pixels.rgb.length;
        if (spec.elementCount() != n) {
            throw new ModelException("the input tensor " + spec + " holds " + spec.elementCount()
                    + " values but the prepared image has " + n + " (" + pixels.width + "x" + pixels.height + "x3)");
        }
        out.rewind();
        boolean isFloat = TensorSpec.FLOAT32.equals(spec.dtype);
        for (int i = 0; i < n; i++) {
            int p = pixels.rgb[i] & 0xff;
            if (isFloat) {
                float v = p;
                if (normalize != null) {
                    v = (v - normalize.mean[i % 3]) / normalize.std[i % 3];
                }
                out.putFloat(v);
            } else {
                out.put((byte) (int) quantize(p, spec));
            }
        }
        out.rewind();
    }

    /**
     * The image an input tensor holds, read back from the tensor bytes themselves (the "model
     * input" view): quantized values map back with {@code (q - zero_point) * scale}, floats
     * through the inverse of the app's normalisation; rounded and clamped to 0..255.
     */
    public static RgbImage inputToImage(ByteBuffer in, TensorSpec spec, ModelContract.Normalization normalize) {
        int h = spec.shape[1];
        int w = spec.shape[2];
        double[] raw = readRaw(in, spec);
        byte[] px = new byte[raw.length];
        for (int i = 0; i < raw.length; i++) {
            double v = raw[i];
            if (TensorSpec.FLOAT32.equals(spec.dtype)) {
                if (normalize != null) {
                    v = v * normalize.std[i % 3] + normalize.mean[i % 3];
                }
            } else if (spec.scale != 0f) {
                v = (v - spec.zeroPoint) * spec.scale;
            } else if (TensorSpec.INT8.equals(spec.dtype)) {
                v = (int) v & 0xff;
            }
            px[i] = (byte) Preprocess.clamp((int) Math.rint(v), 0, 255);
        }
        return new RgbImage(w, h, px);
    }

    /** Raw output values (uint8 as 0..255, int8 as -128..127, float32 as is). */
    public static double[] readRaw(ByteBuffer out, TensorSpec spec) {
        out.rewind();
        int n = spec.elementCount();
        double[] raw = new double[n];
        for (int i = 0; i < n; i++) {
            if (TensorSpec.FLOAT32.equals(spec.dtype)) {
                raw[i] = out.getFloat();
            } else if (TensorSpec.UINT8.equals(spec.dtype)) {
                raw[i] = out.get() & 0xff;
            } else {
                raw[i] = out.get();
            }
        }
        out.rewind();
        return raw;
    }

    /** {@code (raw - zero_point) * scale} in float32; raw values when the tensor is not quantized. */
    public static float[] dequantize(double[] raw, TensorSpec spec) {
        float[] out = new float[raw.length];
        for (int i = 0; i < raw.length; i++) {
            out[i] = spec.scale == 0f ? (float) raw[i] : ((float) raw[i] - spec.zeroPoint) * spec.scale;
        }
        return out;
    }

    /** Indices of the {@code k} highest scores, best first; equal scores in index order. */
    public static int[] topK(float[] scores, int k) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < scores.length; i++) {
            order.add(i);
        }
        order.sort((a, b) -> Float.compare(scores[b], scores[a]));  // List.sort is stable
        int m = Math.min(k, scores.length);
        int[] top = new int[m];
        for (int i = 0; i < m; i++) {
            top[i] = order.get(i);
        }
        return top;
    }
}
