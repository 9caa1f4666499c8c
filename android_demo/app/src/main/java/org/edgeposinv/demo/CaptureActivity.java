package org.edgeposinv.demo;

import android.content.Context;
import android.os.Build;
import android.os.Bundle;
import android.view.Gravity;
import android.widget.ArrayAdapter;
import android.widget.EditText;
import android.widget.FrameLayout;
import android.widget.LinearLayout;
import android.widget.Spinner;
import android.widget.TextView;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.edgeposinv.demo.camera.CameraActivity;
import org.edgeposinv.demo.core.CaptureGuide;
import org.edgeposinv.demo.core.DatasetWriter;
import org.edgeposinv.demo.core.FrameQuality;
import org.edgeposinv.demo.core.OpenSet;
import org.edgeposinv.demo.core.RgbImage;
import org.edgeposinv.demo.ui.GuideOverlay;
import org.edgeposinv.demo.ui.Views;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * Capture mode: the desktop tool's guided capture on the phone. The guide shows which grid
 * cell and angle the object should be at next (per label), "Take" stores the current upright
 * frame as {@code DATA/<label>/<session>_<seq>.jpg} and appends its manifest line.
 * "None of the classes" selects the reserved label {@code _background} (the empty scene, other
 * objects, idle hands), guided with {@link CaptureGuide#BACKGROUND_PROMPTS} instead of angles.
 * {@code adb pull} of the folder (or {@code edgeposinv device-pull}) gives a training set.
 */
public final class CaptureActivity extends CameraActivity {
    private GuideOverlay overlay;
    private Spinner labelChoice;
    private ArrayAdapter<String> labels;
    private TextView status;
    private DatasetWriter writer;
    private final CaptureGuide guide = CaptureGuide.standard();
    private final Map<String, Integer> kept = new HashMap<>();
    private final Map<String, Integer> perCell = new TreeMap<>();
    private volatile RgbImage latest;
    /** What the reserved label {@code _background} holds. */
    static final String BACKGROUND_HINT = "none of the classes: empty scene, other objects, idle hands";

    static File datasetRoot(Context context) {
        return new File(context.getExternalFilesDir(null), "datasets/DATA");
    }

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        overlay = new GuideOverlay(this);
        status = Views.text(this, "", 14f);
        labels = new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, new ArrayList<>());
        labels.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        labelChoice = new Spinner(this);
        labelChoice.setAdapter(labels);
        labelChoice.setOnItemSelectedListener(new android.widget.AdapterView.OnItemSelectedListener() {
            @Override
            public void onItemSelected(android.widget.AdapterView<?> p, android.view.View v, int pos, long id) {
                refresh();
            }

            @Override
            public void onNothingSelected(android.widget.AdapterView<?> p) {}
        });
        EditText newLabel = new EditText(this);
        newLabel.setHint("new label");
        newLabel.setSingleLine(true);
        LinearLayout controls = new LinearLayout(this);
        controls.setOrientation(LinearLayout.VERTICAL);
        controls.addView(status);
        controls.addView(Views.row(this, labelChoice, newLabel, Views.button(this, "Add", v -> {
            try {
                String l = DatasetWriter.checkLabel(newLabel.getText().toString());
                if (labels.getPosition(l) < 0) {
                    labels.add(l);
                }
                labelChoice.setSelection(labels.getPosition(l));
                newLabel.setText("");
            } catch (IllegalArgumentException e) {
                status.setText(e.getMessage());
            }
        })));
        controls.addView(Views.row(this, Views.button(this, "None of the classes", v -> chooseBackground()),
                Views.button(this, "Take", v -> take())));
        FrameLayout root = new FrameLayout(this);
        root.addView(preview);
        root.addView(overlay);
        root.addView(controls, new FrameLayout.LayoutParams(-1, -2, Gravity.BOTTOM));
        setContentView(root);
        try {
            writer = new DatasetWriter(datasetRoot(this), DatasetWriter.newSessionId(new Date()));
            File[] existing = datasetRoot(this).listFiles(File::isDirectory);
            if (existing != null) {
                for (File d : existing) {
                    labels.add(d.getName());
                }
            }
        } catch (IOException e) {
            status.setText("cannot open the dataset folder: " + e.getMessage());
        }
        refresh();
    }

    /** Offer and select the reserved label {@code _background} (none of the classes). */
    private void chooseBackground() {
        if (labels.getPosition(OpenSet.RESERVED_LABEL) < 0) {
            labels.add(OpenSet.RESERVED_LABEL);
        }
        labelChoice.setSelection(labels.getPosition(OpenSet.RESERVED_LABEL));
        refresh();
    }

    /** How the status line names a label; the reserved one says what belongs in it. */
    static String describe(String label) {
        return OpenSet.RESERVED_LABEL.equals(label) ? label + " (" + BACKGROUND_HINT + ")" : label;
    }

    private String label() {
        Object l = labelChoice.getSelectedItem();
        return l == null ? null : (String) l;
    }

    private void refresh() {
        String l = label();
        if (l == null) {
            overlay.setStep(null);
            status.setText("Add a label (the object's class), then follow the guide.");
            return;
        }
        CaptureGuide.Step step = guide.step(kept.getOrDefault(l, 0), l);
        overlay.setStep(step);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s: %d this session · next: %s%n", describe(l), kept.getOrDefault(l, 0), step.prompt()));
        for (Map.Entry<String, Integer> e : perCell.entrySet()) {
            if (e.getKey().startsWith(l + "|")) {
                sb.append(e.getKey().substring(l.length() + 1)).append(": ").append(e.getValue()).append("  ");
            }
        }
        sb.append("\n→ ").append(writer == null ? "?" : writer.root.getPath());
        status.setText(sb.toString());
    }

    private void take() {
        String l = label();
        RgbImage frame = latest;
        if (l == null || frame == null || writer == null) {
            status.setText(l == null ? "Choose or add a label first." : "No camera frame yet.");
            return;
        }
        CaptureGuide.Step step = guide.step(kept.getOrDefault(l, 0), l);
        try {
            int[] gray = FrameQuality.gray(frame);
            JSONObject fields = new JSONObject()
                    .put("source", new JSONObject().put("kind", "android").put("id", "back"))
                    .put("device", new JSONObject().put("backend", "camera2").put("width", frame.width)
                            .put("height", frame.height).put("model", Build.MANUFACTURER + " " + Build.MODEL)
                            .put("rotation_deg", cameraRotationDegrees()))
                    .put("guide", step.toJson())
                    .put("sharpness", FrameQuality.sharpness(gray, frame.width, frame.height))
                    .put("exposure", FrameQuality.exposure(gray))
                    .put("timestamp", DatasetWriter.timestamp(new Date()));
            writer.write(l, AndroidImages.jpeg(frame, 95), fields);
            kept.merge(l, 1, Integer::sum);
            perCell.merge(l + "|" + step.cellName() + "/" + step.angle, 1, Integer::sum);
        } catch (IOException | JSONException e) {
            status.setText("could not save: " + e.getMessage());
            return;
        }
        refresh();
    }

    @Override
    public void onFrame(RgbImage upright, int rotationDegrees) {
        latest = upright;
    }

    @Override
    protected void showStatus(String message) {
        status.setText(message);
    }

    @Override
    protected String modeName() {
        return "Capture";
    }
}
