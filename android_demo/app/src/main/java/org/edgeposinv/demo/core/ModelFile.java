package org.edgeposinv.demo.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.lite.schema.Buffer;
import org.tensorflow.lite.schema.Metadata;
import org.tensorflow.lite.schema.Model;
import org.tensorflow.lite.schema.QuantizationParameters;
import org.tensorflow.lite.schema.SubGraph;
import org.tensorflow.lite.schema.Tensor;
import org.tensorflow.lite.schema.TensorType;

/**
 * What a .tflite file says about itself, read from the flatbuffer (TensorFlow Lite's own
 * generated schema classes): named metadata entries, input and output tensors.
 * No interpreter is needed, so this runs in JVM tests.
 */
public final class ModelFile {
    private static final String IDENTIFIER = "TFL3";

    public final ByteBuffer bytes;
    public final Map<String, byte[]> metadata;
    public final TensorSpec input;
    public final TensorSpec output;

    private ModelFile(ByteBuffer bytes, Map<String, byte[]> metadata, TensorSpec input, TensorSpec output) {
        this.bytes = bytes;
        this.metadata = metadata;
        this.input = input;
        this.output = output;
    }

    /** Parse a model held in {@code bytes} (the buffer is not modified; its position is ignored). */
    public static ModelFile parse(ByteBuffer bytes) {
        ByteBuffer buf = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        buf.rewind();
        if (buf.remaining() < 8) {
            throw new ModelException("the model file is " + buf.remaining() + " bytes long; a .tflite file is much larger (truncated copy?)");
        }
        byte[] ident = new byte[4];
        for (int i = 0; i < 4; i++) {
            ident[i] = buf.get(4 + i);
        }
        if (!IDENTIFIER.equals(new String(ident, StandardCharsets.US_ASCII))) {
            throw new ModelException("not a TFLite model (missing the 'TFL3' identifier); pick a .tflite file written by 'edgeposinv export'");
        }
        try {
            Model model = Model.getRootAsModel(buf);
            Map<String, byte[]> entries = new LinkedHashMap<>();
            for (int i = 0; i < model.metadataLength(); i++) {
                Metadata m = model.metadata(i);
                Buffer b = model.buffers((int) m.buffer());
                byte[] data = new byte[b == null ? 0 : b.dataLength()];
                for (int k = 0; k < data.length; k++) {
                    data[k] = (byte) b.data(k);
                }
                entries.put(m.name(), data);
            }
            if (model.subgraphsLength() < 1) {
                throw new ModelException("the model has no subgraph; is the file truncated?");
            }
            SubGraph graph = model.subgraphs(0);
            if (graph.inputsLength() != 1 || graph.outputsLength() != 1) {
                throw new ModelException("the model has " + graph.inputsLength() + " inputs and " + graph.outputsLength()
                        + " outputs; an image classifier has one of each");
            }
            TensorSpec in = spec(graph.tensors(graph.inputs(0)));
            TensorSpec out = spec(graph.tensors(graph.outputs(0)));
            return new ModelFile(bytes, entries, in, out);
        } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
            throw new ModelException("the model file cannot be parsed (" + e + "); is it truncated?", e);
        }
    }

    private static TensorSpec spec(Tensor t) {
        int[] shape = new int[t.shapeLength()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.shape(i);
        }
        String dtype;
        switch (t.type()) {
            case TensorType.FLOAT32: dtype = TensorSpec.FLOAT32; break;
            case TensorType.UINT8: dtype = TensorSpec.UINT8; break;
            case TensorType.INT8: dtype = TensorSpec.INT8; break;
            default:
                throw new ModelException("tensor '" + t.name() + "' has type " + TensorType.name(t.type())
                        + "; an image classifier needs float32, uint8 or int8");
        }
        QuantizationParameters q = t.quantization();
        float scale = q != null && q.scaleLength() > 0 ? q.scale(0) : 0f;
        int zeroPoint = q != null && q.zeroPointLength() > 0 ? (int) q.zeroPoint(0) : 0;
        return new TensorSpec(shape, dtype, scale, zeroPoint);
    }

    public int sizeBytes() {
        return bytes.capacity();
    }

    /** Lower-case hex SHA-256 of the whole file (the report's {@code model.sha256}). */
    public String sha256() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer b = bytes.duplicate();
            b.rewind();
            md.update(b);
            StringBuilder sb = new StringBuilder();
            for (byte x : md.digest()) {
                sb.append(String.format("%02x", x & 0xff));
            }
            return sb.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
