package org.edgeposinv.demo.core;

import java.util.Arrays;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/** Shape, element type and quantization of one tensor, as the model file declares them. */
public final class TensorSpec {
    public static final String FLOAT32 = "float32";
    public static final String UINT8 = "uint8";
    public static final String INT8 = "int8";

    public final int[] shape;
    public final String dtype;
    /** 0 for a tensor that is not quantized. */
    public final float scale;
    public final int zeroPoint;

    public TensorSpec(int[] shape, String dtype, float scale, int zeroPoint) {
        if (!FLOAT32.equals(dtype) && !UINT8.equals(dtype) && !INT8.equals(dtype)) {
            throw new ModelException("tensor type " + dtype + " is not supported; an image classifier needs float32, uint8 or int8");
        }
        this.shape = shape.clone();
        this.dtype = dtype;
        this.scale = scale;
        this.zeroPoint = zeroPoint;
    }

    public int elementCount() {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    public int bytesPerElement() {
        return FLOAT32.equals(dtype) ? 4 : 1;
    }

    /** {@code {"shape": [...], "dtype": ..., "scale": ..., "zero_point": ...}} as in report.json. */
    public JSONObject toJson() {
        try {
            JSONArray s = new JSONArray();
            for (int d : shape) {
                s.put(d);
            }
            return new JSONObject().put("shape", s).put("dtype", dtype).put("scale", (double) scale)
                    .put("zero_point", zeroPoint);
        } catch (JSONException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + (scale != 0 ? " scale " + scale + " zero point " + zeroPoint : "");
    }
}
