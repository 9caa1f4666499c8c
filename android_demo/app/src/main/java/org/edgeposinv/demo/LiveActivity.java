package org.edgeposinv.demo;

import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.Color;
import android.graphics.drawable.BitmapDrawable;
import android.net.Uri;
import android.os.Bundle;
import android.os.Handler;
import android.os.HandlerThread;
import android.text.SpannableString;
import android.text.Spanned;
import android.text.style.ForegroundColorSpan;
import android.view.Gravity;
import android.view.View;
import android.widget.AdapterView;
import android.widget.FrameLayout;
import android.widget.ImageView;
import android.widget.LinearLayout;
import android.widget.Spinner;
import android.widget.TextView;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import org.edgeposinv.demo.camera.CameraActivity;
import org.edgeposinv.demo.core.LiveVerdict;
import org.edgeposinv.demo.core.ModelException;
import org.edgeposinv.demo.core.Preprocess;
import org.edgeposinv.demo.core.RgbImage;
import org.edgeposinv.demo.ui.Views;

/**
 * Live mode: camera preview, each frame rotated upright and prepared by the model's own input
 * contract, top-3 labels (or "none of the classes" when the model's open-set rule rejects the
 * frame), inference time and frames per second; threads and delegate can be
 * changed; "model input" shows the exact tensor the model received, decoded from its bytes.
 */
public final class LiveActivity extends CameraActivity {
    private static final int PICK_MODEL = 11;
    /** The colour of the top score under "none of the classes". */
    static final int DIMMED = Color.GRAY;

    private TextView results;
    private ImageView modelInput;
    private Spinner threadsChoice;
    private Spinner delegateChoice;
    private HandlerThread inferenceThread;
    private Handler inference;
    private ByteBuffer modelBytes;
    private String modelName = "(none)";
    private Classifier classifier;
    private long lastFrameNs;
    private double fps;
    private volatile boolean showInput;

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        results = Views.text(this, "loading model…", 18f);
        modelInput = new ImageView(this);
        modelInput.setVisibility(View.GONE);
        modelInput.setBackgroundColor(Color.BLACK);
        threadsChoice = Views.spinner(this, Arrays.asList("1", "2", "3", "4", "6", "8"), 1);
        delegateChoice = Views.spinner(this, Arrays.asList(Classifier.DELEGATES), 0);
        AdapterView.OnItemSelectedListener rebuild = new AdapterView.OnItemSelectedListener() {
            @Override
            public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
                reloadClassifier();
            }

            @Override
            public void onNothingSelected(AdapterView<?> parent) {}
        };
        threadsChoice.setOnItemSelectedListener(rebuild);
        delegateChoice.setOnItemSelectedListener(rebuild);
        LinearLayout controls = new LinearLayout(this);
        controls.setOrientation(LinearLayout.VERTICAL);
        controls.addView(Views.row(this, Views.text(this, "threads", 14f), threadsChoice, Views.text(this, "delegate", 14f), delegateChoice));
        controls.addView(Views.row(this,
                Views.button(this, "Pick model…", v -> pickModel()),
                Views.button(this, "Model input", v -> {
                    showInput = !showInput;
                    modelInput.setVisibility(showInput ? View.VISIBLE : View.GONE);
                })));
        FrameLayout root = new FrameLayout(this);
        root.addView(preview);
        root.addView(results, new FrameLayout.LayoutParams(-2, -2, Gravity.TOP | Gravity.START));
        root.addView(modelInput, new FrameLayout.LayoutParams(384, 384, Gravity.TOP | Gravity.END));
        root.addView(controls, new FrameLayout.LayoutParams(-1, -2, Gravity.BOTTOM));
        setContentView(root);

        inferenceThread = new HandlerThread("inference");
        inferenceThread.start();
        inference = new Handler(inferenceThread.getLooper());
        int threads0 = selectedThreads();
        String delegate0 = selectedDelegate();
        inference.post(() -> {
            try {
                if (ModelStore.hasBundledModel(this)) {
                    modelBytes = ModelStore.mapAsset(this, ModelStore.BUNDLED_ASSET);
                    modelName = "assets/" + ModelStore.BUNDLED_ASSET;
                    buildClassifier(threads0, delegate0);
                } else {
                    show("No model in the app's assets: pick a .tflite exported by edgeposinv "
                            + "(or run 'edgeposinv export RUN --out M.tflite --android-assets android_demo/app/src/main/assets').");
                }
            } catch (IOException | ModelException e) {
                show("cannot load the bundled model: " + e.getMessage());
            }
        });
    }

    private void pickModel() {
        Intent i = new Intent(Intent.ACTION_OPEN_DOCUMENT).addCategory(Intent.CATEGORY_OPENABLE).setType("*/*");
        startActivityForResult(i, PICK_MODEL);
    }

    @Override
    protected void onActivityResult(int request, int result, Intent data) {
        super.onActivityResult(request, result, data);
        if (request != PICK_MODEL || result != RESULT_OK || data == null || data.getData() == null) {
            return;
        }
        Uri uri = data.getData();
        int threads = selectedThreads();
        String delegate = selectedDelegate();
        inference.post(() -> {
            try {
                modelBytes = ModelStore.importDocument(this, uri);
                modelName = uri.getLastPathSegment();
                buildClassifier(threads, delegate);
            } catch (IOException | ModelException e) {
                show("cannot use " + uri.getLastPathSegment() + ": " + e.getMessage());
            }
        });
    }

    private int selectedThreads() {
        return Integer.parseInt((String) threadsChoice.getSelectedItem());
    }

    private String selectedDelegate() {
        return (String) delegateChoice.getSelectedItem();
    }

    /** UI thread: the choices changed; rebuild on the inference thread. */
    private void reloadClassifier() {
        int threads = selectedThreads();
        String delegate = selectedDelegate();
        if (inference != null) {
            inference.post(() -> {
                if (modelBytes != null) {
                    buildClassifier(threads, delegate);
                }
            });
        }
    }

    /** On the inference thread: replace the classifier (closing the old interpreter and delegate). */
    private void buildClassifier(int threads, String delegate) {
        if (classifier != null) {
            classifier.close();
            classifier = null;
        }
        try {
            classifier = new Classifier(modelBytes, threads, delegate);
            show(modelName + ": " + classifier.contract.labels.size() + " labels, " + classifier.imageSizePx() + " px");
        } catch (RuntimeException e) {
            show("cannot run " + modelName + " with " + delegate + ": " + e.getMessage());
        } catch (LinkageError e) {  // a delegate's native library (the GPU one) that does not load
            show("cannot run " + modelName + " with " + delegate + ": " + Classifier.explainNative(e));
        }
    }

    @Override
    protected void onDestroy() {
        inference.post(() -> {
            if (classifier != null) {
                classifier.close();
                classifier = null;
            }
        });
        inferenceThread.quitSafely();
        super.onDestroy();
    }

    /** Camera thread: hand the frame to the inference thread (frames arriving meanwhile are dropped). */
    @Override
    public void onFrame(RgbImage upright, int rotationDegrees) {
        final Object done = new Object();
        synchronized (done) {
            inference.post(() -> {
                classifyFrame(upright);
                synchronized (done) {
                    done.notifyAll();
                }
            });
            try {
                done.wait(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void classifyFrame(RgbImage upright) {
        Classifier c = classifier;
        if (c == null) {
            return;
        }
        Classifier.Result r;
        try {
            r = c.classify(Preprocess.prepare(upright, 1, c.contract), 3);
        } catch (RuntimeException | LinkageError e) {  // say it; never kill the app from this thread
            show("classification failed: " + (e instanceof LinkageError ? Classifier.explainNative((LinkageError) e) : e));
            return;
        }
        long now = System.nanoTime();
        if (lastFrameNs != 0) {
            double instant = 1e9 / (now - lastFrameNs);
            fps = fps == 0 ? instant : 0.9 * fps + 0.1 * instant;
        }
        lastFrameNs = now;
        LiveVerdict verdict = LiveVerdict.of(c.openSet, c.contract.labels, r.probs, 3);
        CharSequence text = display(verdict, String.format(Locale.ROOT, "inference %.1f ms · %.1f fps · %d threads · %s",
                r.inferenceMs, fps, c.threads, c.delegateName));
        Bitmap input = showInput ? AndroidImages.toBitmap(c.lastInput()) : null;
        runOnUiThread(() -> {
            results.setText(text);
            if (input != null) {
                BitmapDrawable d = new BitmapDrawable(getResources(), input);
                d.setFilterBitmap(false);  // show the model's pixels, not a smoothed version
                modelInput.setImageDrawable(d);
            }
        });
    }

    /** The results text: the verdict (its top-score part dimmed when it is "none of the classes"), then {@code timing}. */
    static CharSequence display(LiveVerdict verdict, String timing) {
        SpannableString s = new SpannableString(verdict.text + timing);
        if (verdict.dimFrom < verdict.text.length()) {
            s.setSpan(new ForegroundColorSpan(DIMMED), verdict.dimFrom, verdict.text.length(), Spanned.SPAN_EXCLUSIVE_EXCLUSIVE);
        }
        return s;
    }

    @Override
    protected void showStatus(String message) {
        results.setText(message);
    }

    @Override
    protected String modeName() {
        return "Live";
    }

    /** From any thread. */
    private void show(String message) {
        runOnUiThread(() -> showStatus(message));
    }
}
