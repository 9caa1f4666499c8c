package org.edgeposinv.demo;

import android.os.Build;
import android.system.Os;
import android.system.OsConstants;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import org.edgeposinv.demo.core.Evaluation;
import org.edgeposinv.demo.core.ModelContract;
import org.edgeposinv.demo.core.ModelFile;
import org.edgeposinv.demo.core.NativeLibraries;
import org.edgeposinv.demo.core.OpenSet;
import org.edgeposinv.demo.core.RgbImage;
import org.edgeposinv.demo.core.Tensors;
import org.tensorflow.lite.Delegate;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.TensorFlowLite;
import org.tensorflow.lite.gpu.CompatibilityList;
import org.tensorflow.lite.gpu.GpuDelegate;
import org.tensorflow.lite.nnapi.NnApiDelegate;

/**
 * One classifier for every edgeposinv model: size, tensor types, quantization, labels and
 * preprocessing all come from the model file. Closing it closes the interpreter and the
 * delegate it created.
 */
public final class Classifier implements AutoCloseable, Evaluation.Engine {
    public static final String[] DELEGATES = {"cpu", "xnnpack", "gpu", "nnapi"};

    /** Top-k labels of one image. */
    public static final class Result {
        public final String[] labels;
        public final float[] scores;
        public final double inferenceMs;
        /** The whole (dequantized) output row, for the open-set decision. */
        public final float[] probs;

        Result(String[] labels, float[] scores, double inferenceMs, float[] probs) {
            this.labels = labels;
            this.scores = scores;
            this.inferenceMs = inferenceMs;
            this.probs = probs;
        }

        public String format() {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < labels.length; i++) {
                sb.append(String.format(Locale.ROOT, "%d. %s  %.1f%%%n", i + 1, labels[i], 100 * scores[i]));
            }
            return sb.toString();
        }
    }

    public final ModelContract contract;
    /** The model's "none of the classes" rule (never rejects when the model carries none). */
    public final OpenSet openSet;
    public final int threads;
    public final String delegateName;
    private final Interpreter interpreter;
    private final Delegate delegate;
    private final ByteBuffer input;
    private final ByteBuffer output;
    private double lastInferenceMs;

    /**
     * @param model the .tflite bytes (memory-mapped from assets or a file)
     * @param delegateName one of {@link #DELEGATES}
     */
    public Classifier(ByteBuffer model, int threads, String delegateName) {
        this.contract = ModelContract.read(ModelFile.parse(model));
        this.openSet = OpenSet.of(contract.description, contract.labels);
        if (threads < 1 || threads > 16) {
            throw new IllegalArgumentException("threads must be 1..16, got " + threads);
        }
        String problem = nativeProblem();
        if (problem != null) {
            throw new IllegalStateException(problem);
        }
        Interpreter.Options options = new Interpreter.Options().setNumThreads(threads);
        Delegate d = null;
        switch (delegateName) {
            case "cpu":
                options.setUseXNNPACK(false);
                break;
            case "xnnpack":
                options.setUseXNNPACK(true);
                break;
            case "gpu":
                try (CompatibilityList compat = new CompatibilityList()) {
                    if (!compat.isDelegateSupportedOnThisDevice()) {
                        throw new IllegalArgumentException("the GPU delegate does not support this device; use cpu or xnnpack");
                    }
                    d = new GpuDelegate(compat.getBestOptionsForThisDevice());
                }
                break;
            case "nnapi":
                d = new NnApiDelegate();
                break;
            default:
                throw new IllegalArgumentException("delegate must be one of cpu, xnnpack, gpu, nnapi; got '" + delegateName + "'");
        }
        if (d != null) {
            options.addDelegate(d);
        }
        this.delegate = d;
        this.threads = threads;
        this.delegateName = delegateName;
        try {
            this.interpreter = new Interpreter(model, options);
        } catch (RuntimeException | LinkageError e) {
            closeDelegate();
            throw e;
        }
        ModelFile f = contract.file;
        input = ByteBuffer.allocateDirect(f.input.elementCount() * f.input.bytesPerElement()).order(ByteOrder.nativeOrder());
        output = ByteBuffer.allocateDirect(f.output.elementCount() * f.output.bytesPerElement()).order(ByteOrder.nativeOrder());
    }

    /**
     * Null when TensorFlow Lite's native code loads on this device; otherwise one line saying
     * why not and what to do (on a 16 KB-page phone: the 4 KB-aligned libraries, and LiteRT).
     */
    public static String nativeProblem() {
        try {
            TensorFlowLite.init();
            return null;
        } catch (LinkageError e) {
            return explainNative(e);
        }
    }

    /** A native-library failure (UnsatisfiedLinkError and kin) as one line for the user. */
    public static String explainNative(LinkageError e) {
        return NativeLibraries.explain(e, pageSizeBytes(), Build.SUPPORTED_ABIS);
    }

    private static long pageSizeBytes() {
        try {
            return Os.sysconf(OsConstants._SC_PAGESIZE);
        } catch (RuntimeException | LinkageError e) {
            return 0;  // unknown: the explanation then does not guess
        }
    }

    public static String runtimeVersion() {
        return TensorFlowLite.runtimeVersion();
    }

    public int imageSizePx() {
        return contract.imageSizePx;
    }

    /** Run one prepared (contract-sized) image; the raw output row. */
    @Override
    public synchronized double[] run(RgbImage prepared) {
        Tensors.fillInput(prepared, contract.file.input, contract.appNormalization(), input);
        output.rewind();
        long t0 = System.nanoTime();
        interpreter.run(input, output);
        lastInferenceMs = (System.nanoTime() - t0) / 1e6;
        return Tensors.readRaw(output, contract.file.output);
    }

    /** The image the input tensor holds now, decoded from the tensor bytes (the "model input" view). */
    public synchronized RgbImage lastInput() {
        RgbImage img = Tensors.inputToImage(input, contract.file.input, contract.appNormalization());
        input.rewind();
        return img;
    }

    public Result classify(RgbImage prepared, int k) {
        float[] probs = Tensors.dequantize(run(prepared), contract.file.output);
        int[] top = Tensors.topK(probs, k);
        String[] labels = new String[top.length];
        float[] scores = new float[top.length];
        for (int i = 0; i < top.length; i++) {
            labels[i] = contract.labels.get(top[i]);
            scores[i] = probs[top[i]];
        }
        return new Result(labels, scores, lastInferenceMs, probs);
    }

    @Override
    public synchronized void close() {
        interpreter.close();
        closeDelegate();
    }

    private void closeDelegate() {
        if (delegate instanceof GpuDelegate) {
            ((GpuDelegate) delegate).close();
        } else if (delegate instanceof NnApiDelegate) {
            ((NnApiDelegate) delegate).close();
        }
    }
}
