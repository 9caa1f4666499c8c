package org.edgeposinv.demo;

import android.app.Activity;
import android.content.Intent;
import android.os.Build;
import android.os.Bundle;
import android.widget.TextView;
import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.edgeposinv.demo.core.AtomicFiles;
import org.edgeposinv.demo.core.Evaluation;
import org.edgeposinv.demo.ui.Views;
import org.json.JSONObject;

/**
 * Evaluation mode, started over adb (see android_demo/README.md):
 *
 * <pre>
 * adb shell am start -n org.edgeposinv.demo/.EvalActivity \
 *   --es model /sdcard/Android/data/org.edgeposinv.demo/files/eval/model.tflite \
 *   --es sets published=/sdcard/…/eval/sets/published,wild=/sdcard/…/eval/sets/wild \
 *   [--es unknown_sets shelves=/sdcard/…/eval/unknown/shelves] \
 *   --ei threads 2 --es delegate cpu --es out /sdcard/Android/data/org.edgeposinv.demo/files/eval/out
 * </pre>
 *
 * Every image of each {@code DIR/<label>/} goes through the same input contract and
 * interpreter as live mode; {@code OUT/report.json} (shared schema, generator.host
 * "android"), {@code OUT/predictions.csv} and {@code OUT/progress.json} are written;
 * unknown sets (images of none of the classes) add the report's {@code open_set} figures;
 * a failure writes {@code OUT/error.txt} with a one-line reason.
 */
public final class EvalActivity extends Activity {
    public static final String EXTRA_MODEL = "model";
    public static final String EXTRA_SETS = "sets";
    /** Optional: sets of images of none of the classes, {@code NAME=DIR[,NAME=DIR...]} (any folder layout). */
    public static final String EXTRA_UNKNOWN_SETS = "unknown_sets";
    public static final String EXTRA_THREADS = "threads";
    public static final String EXTRA_DELEGATE = "delegate";
    public static final String EXTRA_OUT = "out";
    public static final String EXTRA_TOP_K = "top_k";
    public static final String EXTRA_WARMUP = "warmup";

    private TextView status;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        status = Views.text(this, "evaluation mode", 16f);
        status.setPadding(32, 64, 32, 32);
        setContentView(status);
        Intent intent = getIntent();
        String model = intent.getStringExtra(EXTRA_MODEL);
        String sets = intent.getStringExtra(EXTRA_SETS);
        String unknownSets = intent.getStringExtra(EXTRA_UNKNOWN_SETS);
        String out = intent.getStringExtra(EXTRA_OUT);
        int threads = intent.getIntExtra(EXTRA_THREADS, 1);
        String delegate = intent.getStringExtra(EXTRA_DELEGATE);
        int topK = intent.getIntExtra(EXTRA_TOP_K, 3);
        int warmup = intent.getIntExtra(EXTRA_WARMUP, 5);
        if (model == null || sets == null || out == null) {
            status.setText("Evaluation mode needs the extras model, sets (NAME=DIR,...) and out; "
                    + "see android_demo/README.md for the adb command.");
            return;
        }
        String del = delegate == null ? "cpu" : delegate;
        Thread worker = new Thread(() -> run(new File(model), sets, unknownSets, new File(out), threads, del, topK, warmup), "evaluation");
        worker.start();
    }

    /** Parse {@code NAME=DIR[,NAME=DIR...]} (the extra {@code extra}) into names and folders. */
    static void parseSets(String extra, String specs, List<String> names, List<File> dirs) {
        for (String spec : specs.split(",")) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new IllegalArgumentException(extra + " must be NAME=DIR[,NAME=DIR...]; got '" + spec + "'");
            }
            names.add(spec.substring(0, eq));
            dirs.add(new File(spec.substring(eq + 1)));
        }
    }

    private void run(File model, String sets, String unknownSets, File out, int threads, String delegate, int topK,
                     int warmup) {
        List<String> names = new ArrayList<>();
        List<File> dirs = new ArrayList<>();
        List<String> unknownNames = new ArrayList<>();
        List<File> unknownDirs = new ArrayList<>();
        try {
            if (!out.isDirectory() && !out.mkdirs()) {
                throw new IllegalArgumentException("cannot create the output folder " + out);
            }
            parseSets(EXTRA_SETS, sets, names, dirs);
            if (unknownSets != null && !unknownSets.isEmpty()) {
                parseSets(EXTRA_UNKNOWN_SETS, unknownSets, unknownNames, unknownDirs);
            }
            try (Classifier classifier = new Classifier(ModelStore.mapFile(model), threads, delegate)) {
                JSONObject platform = new JSONObject()
                        .put("system", "Android")
                        .put("machine", Build.SUPPORTED_ABIS.length > 0 ? Build.SUPPORTED_ABIS[0] : "unknown")
                        .put("processor", Build.HARDWARE)
                        .put("device_model", Build.MANUFACTURER + " " + Build.MODEL)
                        .put("android_version", Build.VERSION.RELEASE)
                        .put("sdk_int", Build.VERSION.SDK_INT);
                Evaluation.Runtime runtime = new Evaluation.Runtime("tensorflow-lite", Classifier.runtimeVersion(),
                        threads, delegate, platform);
                JSONObject report = Evaluation.run(classifier.contract, model.getPath(), names, dirs, unknownNames, unknownDirs,
                        new AndroidImages(),
                        classifier, runtime, out, topK, warmup,
                        (done, total) -> {
                            if (done % 10 == 0 || done == total) {
                                runOnUiThread(() -> status.setText(String.format(Locale.ROOT, "evaluating: %d / %d", done, total)));
                            }
                        });
                StringBuilder summary = new StringBuilder("done → " + out + "\n");
                for (String name : names) {
                    JSONObject set = report.getJSONObject("sets").getJSONObject(name);
                    summary.append(String.format(Locale.ROOT, "%s: top-1 %.1f%% (n=%d)%n", name,
                            100 * set.getDouble("top1"), set.getInt("n")));
                }
                runOnUiThread(() -> status.setText(summary.toString()));
            }
        } catch (Exception | LinkageError e) {
            // Anything, a native library that does not load included (an Error, which would kill the
            // app without a word): the host must get a reason, never a silent hang.
            String reason = e instanceof LinkageError ? Classifier.explainNative((LinkageError) e)
                    : e.getMessage() == null ? e.toString() : e.getMessage();
            try {
                StringWriter trace = new StringWriter();
                e.printStackTrace(new PrintWriter(trace));
                AtomicFiles.writeAtomic(new File(out, Evaluation.ERROR_TXT), reason.replace('\n', ' ') + "\n\n" + trace);
            } catch (java.io.IOException ignored) {
                // the output folder itself is unusable; the host times out and says so
            }
            runOnUiThread(() -> status.setText("evaluation failed: " + reason));
        }
        runOnUiThread(this::finish);
    }
}
