package org.edgeposinv.demo.core;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;
import org.tensorflow.lite.support.metadata.MetadataExtractor;
import org.tensorflow.lite.support.metadata.schema.AssociatedFile;
import org.tensorflow.lite.support.metadata.schema.AssociatedFileType;
import org.tensorflow.lite.support.metadata.schema.NormalizationOptions;
import org.tensorflow.lite.support.metadata.schema.ProcessUnit;
import org.tensorflow.lite.support.metadata.schema.ProcessUnitOptions;
import org.tensorflow.lite.support.metadata.schema.TensorMetadata;

/**
 * Everything the app needs to know about a model, read from the model file alone: labels,
 * the input contract (docs/preprocessing.md), input/output tensors. The primary source is the
 * {@code edgeposinv.model} metadata entry that {@code edgeposinv export} embeds; a model
 * without it may carry standard TFLite Metadata (labels file + NormalizationOptions).
 */
public final class ModelContract {
    public static final String ENTRY_NAME = "edgeposinv.model";
    public static final String SCHEMA = "edgeposinv.model/1";
    public static final int POLICY_VERSION = 1;

    /** Per-channel {@code (x - mean) / std}, applied by the app only when the model does not do it. */
    public static final class Normalization {
        public final float[] mean;
        public final float[] std;

        Normalization(float[] mean, float[] std) {
            this.mean = mean;
            this.std = std;
        }
    }

    public final List<String> labels;
    public final int imageSizePx;
    public final String resizeDown;
    public final String resizeUp;
    public final String crop;
    public final String orientation;
    public final Normalization normalization;
    public final boolean normalizationInsideModel;
    public final String quantization;
    public final ModelFile file;
    /** Where the description came from: {@code "edgeposinv.model"} or {@code "TFLITE_METADATA"}. */
    public final String source;
    /** The {@code input} object of the embedded description (for report.json's {@code model.contract}). */
    public final JSONObject inputJson;
    /** The whole embedded description; empty for a model with standard metadata only. */
    public final JSONObject description;

    private ModelContract(List<String> labels, int imageSizePx, String resizeDown, String resizeUp, String crop,
                          String orientation, Normalization normalization, boolean inside, String quantization,
                          ModelFile file, String source, JSONObject inputJson, JSONObject description) {
        this.labels = Collections.unmodifiableList(new ArrayList<>(labels));
        this.imageSizePx = imageSizePx;
        this.resizeDown = resizeDown;
        this.resizeUp = resizeUp;
        this.crop = crop;
        this.orientation = orientation;
        this.normalization = normalization;
        this.normalizationInsideModel = inside;
        this.quantization = quantization;
        this.file = file;
        this.source = source;
        this.inputJson = inputJson;
        this.description = description;
        check();
    }

    /** Read the contract of a parsed model: the edgeposinv entry first, then standard metadata. */
    public static ModelContract read(ModelFile file) {
        byte[] entry = file.metadata.get(ENTRY_NAME);
        if (entry != null) {
            return fromEntry(file, new String(entry, StandardCharsets.UTF_8));
        }
        if (file.metadata.containsKey("TFLITE_METADATA")) {
            return fromStandardMetadata(file);
        }
        throw new ModelException("the model carries neither an 'edgeposinv.model' description nor TFLite Metadata, "
                + "so its labels are unknown; export it with 'edgeposinv export'");
    }

    static ModelContract fromEntry(ModelFile file, String json) {
        try {
            JSONObject d = new JSONObject(json);
            String schema = d.optString("schema", "");
            if (!SCHEMA.equals(schema)) {
                throw new ModelException("the model's description has schema '" + schema + "'; this app reads '" + SCHEMA
                        + "' (update the app or re-export the model)");
            }
            JSONObject in = d.getJSONObject("input");
            int policy = in.optInt("policy_version", POLICY_VERSION);
            if (policy != POLICY_VERSION) {
                throw new ModelException("the model wants preprocessing policy " + policy + "; this app implements policy "
                        + POLICY_VERSION + " (update the app)");
            }
            List<String> labels = new ArrayList<>();
            JSONArray ls = d.getJSONArray("labels");
            for (int i = 0; i < ls.length(); i++) {
                labels.add(ls.getString(i));
            }
            Normalization norm = new Normalization(floats(in.optJSONArray("normalization_mean"), 127.5f),
                    floats(in.optJSONArray("normalization_std"), 127.5f));
            return new ModelContract(labels, in.getInt("image_size_px"), in.optString("resize_down", "area"),
                    in.optString("resize_up", "bilinear"), in.optString("crop", "center_square"),
                    in.optString("orientation", "exif"), norm, in.optBoolean("normalization_inside_model", true),
                    d.optString("quantization", quantizationOf(file)), file, ENTRY_NAME, in, d);
        } catch (JSONException e) {
            throw new ModelException("the model's 'edgeposinv.model' description is not valid (" + e.getMessage()
                    + "); re-export the model with 'edgeposinv export'", e);
        }
    }

    static ModelContract fromStandardMetadata(ModelFile file) {
        try {
            MetadataExtractor ex = new MetadataExtractor(file.bytes.duplicate());
            List<String> labels = null;
            TensorMetadata out = ex.getOutputTensorMetadata(0);
            for (int i = 0; out != null && i < out.associatedFilesLength(); i++) {
                AssociatedFile f = out.associatedFiles(i);
                if (f.type() == AssociatedFileType.TENSOR_AXIS_LABELS) {
                    labels = readLines(ex.getAssociatedFile(f.name()));
                }
            }
            if (labels == null) {
                throw new ModelException("the model's TFLite Metadata has no labels file (TENSOR_AXIS_LABELS) on its output");
            }
            Normalization norm = null;
            TensorMetadata in = ex.getInputTensorMetadata(0);
            for (int i = 0; in != null && i < in.processUnitsLength(); i++) {
                ProcessUnit unit = in.processUnits(i);
                if (unit.optionsType() == ProcessUnitOptions.NormalizationOptions) {
                    NormalizationOptions n = (NormalizationOptions) unit.options(new NormalizationOptions());
                    norm = new Normalization(floats(n.meanLength(), n::mean), floats(n.stdLength(), n::std));
                }
            }
            boolean inside = norm == null || !TensorSpec.FLOAT32.equals(file.input.dtype);
            int size = file.input.shape.length == 4 ? file.input.shape[1] : 0;
            JSONObject inputJson = new JSONObject().put("image_size_px", size).put("color_order", "RGB")
                    .put("crop", "center_square").put("resize_down", "area").put("resize_up", "bilinear")
                    .put("orientation", "exif").put("normalization_inside_model", inside)
                    .put("policy_version", POLICY_VERSION);
            if (norm == null) {
                norm = new Normalization(new float[] {127.5f, 127.5f, 127.5f}, new float[] {127.5f, 127.5f, 127.5f});
            }
            return new ModelContract(labels, size, "area", "bilinear", "center_square", "exif", norm, inside,
                    quantizationOf(file), file, "TFLITE_METADATA", inputJson, new JSONObject());
        } catch (IOException | JSONException | RuntimeException e) {
            if (e instanceof ModelException) {
                throw (ModelException) e;
            }
            throw new ModelException("the model's TFLite Metadata cannot be read (" + e + ")", e);
        }
    }

    private void check() {
        int[] s = file.input.shape;
        if (s.length != 4 || s[1] != s[2] || s[3] != 3) {
            throw new ModelException("the model's input tensor is " + file.input + "; expected [1, S, S, 3] (square RGB)");
        }
        if (imageSizePx != s[1]) {
            throw new ModelException("the model's description says image_size_px " + imageSizePx
                    + " but its input tensor is " + s[1] + "x" + s[2] + "; re-export the model");
        }
        int classes = file.output.elementCount();
        if (labels.size() != classes) {
            throw new ModelException("the model has " + classes + " outputs but carries " + labels.size()
                    + " labels; they must match");
        }
        if (!"center_square".equals(crop) || !"area".equals(resizeDown) || !"bilinear".equals(resizeUp)) {
            throw new ModelException("the model asks for crop '" + crop + "', resize " + resizeDown + "/" + resizeUp
                    + "; this app implements center_square with area/bilinear (policy " + POLICY_VERSION + ")");
        }
    }

    /** The normalisation the app must apply itself ({@code null}: the model normalises inside). */
    public Normalization appNormalization() {
        return normalizationInsideModel ? null : normalization;
    }

    private static String quantizationOf(ModelFile file) {
        return TensorSpec.FLOAT32.equals(file.input.dtype) ? "float32" : "int8";
    }

    private interface FloatAt {
        float at(int i);
    }

    private static float[] floats(int n, FloatAt f) {
        float[] v = new float[3];
        for (int i = 0; i < 3; i++) {
            v[i] = n == 0 ? 0f : f.at(Math.min(i, n - 1));
        }
        return v;
    }

    private static float[] floats(JSONArray a, float fallback) throws JSONException {
        float[] v = {fallback, fallback, fallback};
        for (int i = 0; a != null && i < 3 && a.length() > 0; i++) {
            v[i] = (float) a.getDouble(Math.min(i, a.length() - 1));
        }
        return v;
    }

    private static List<String> readLines(InputStream in) throws IOException {
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (!line.trim().isEmpty()) {
                    lines.add(line.trim());
                }
            }
        }
        return lines;
    }
}
