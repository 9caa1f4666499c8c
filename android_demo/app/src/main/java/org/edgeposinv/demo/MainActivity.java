package org.edgeposinv.demo;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Color;
import android.os.Bundle;
import android.widget.LinearLayout;
import android.widget.TextView;
import org.edgeposinv.demo.ui.Views;

/** The start screen: live classification, guided capture, and how to run evaluation mode. */
public final class MainActivity extends Activity {
    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        LinearLayout l = new LinearLayout(this);
        l.setOrientation(LinearLayout.VERTICAL);
        l.setPadding(32, 64, 32, 32);
        l.addView(Views.text(this, "edgeposinv", 28f));
        // Checked at start-up: on a 16 KB-page phone the bundled TensorFlow Lite cannot load at all.
        String problem = Classifier.nativeProblem();
        if (problem != null) {
            TextView warning = Views.text(this, problem, 16f);
            warning.setTextColor(Color.rgb(255, 120, 90));
            l.addView(warning);
        }
        l.addView(Views.button(this, "Live: classify the camera", v -> startActivity(new Intent(this, LiveActivity.class))));
        l.addView(Views.button(this, "Capture: build a dataset", v -> startActivity(new Intent(this, CaptureActivity.class))));
        l.addView(Views.text(this, "Evaluation mode is started from a computer:\n"
                + "edgeposinv device-eval MODEL.tflite --set wild=DIR --report OUT\n"
                + "(see android_demo/README.md for the adb command).\n\n"
                + "Captured datasets: " + CaptureActivity.datasetRoot(this), 14f));
        setContentView(l);
    }
}
