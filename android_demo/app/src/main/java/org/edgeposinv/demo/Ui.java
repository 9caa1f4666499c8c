package org.edgeposinv.demo;

import android.app.Activity;
import android.content.pm.PackageManager;
import android.graphics.Color;
import android.view.View;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.LinearLayout;
import android.widget.Spinner;
import android.widget.TextView;
import java.util.List;

/** Small helpers for the code-built screens (no XML resources, so every source compiles without aapt). */
final class Ui {
    static final int CAMERA_REQUEST = 7;

    private Ui() {}

    static TextView text(Activity a, String s, float sizeSp) {
        TextView t = new TextView(a);
        t.setText(s);
        t.setTextSize(sizeSp);
        t.setTextColor(Color.WHITE);
        t.setShadowLayer(4f, 0f, 0f, Color.BLACK);
        return t;
    }

    static Button button(Activity a, String label, View.OnClickListener onClick) {
        Button b = new Button(a);
        b.setText(label);
        b.setAllCaps(false);
        b.setOnClickListener(onClick);
        return b;
    }

    static Spinner spinner(Activity a, List<String> items, int selected) {
        Spinner s = new Spinner(a);
        ArrayAdapter<String> adapter = new ArrayAdapter<>(a, android.R.layout.simple_spinner_item, items);
        adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        s.setAdapter(adapter);
        s.setSelection(Math.max(0, Math.min(selected, items.size() - 1)));
        return s;
    }

    static LinearLayout row(Activity a, View... children) {
        LinearLayout l = new LinearLayout(a);
        l.setOrientation(LinearLayout.HORIZONTAL);
        for (View c : children) {
            l.addView(c);
        }
        return l;
    }

    /** True when the camera may be used; otherwise asks for it (the activity restarts the camera on grant). */
    /** Whether a permission result grants the camera this class asked for. */
    static boolean cameraGranted(int request, int[] grants) {
        return request == CAMERA_REQUEST && grants.length > 0
                && grants[0] == android.content.pm.PackageManager.PERMISSION_GRANTED;
    }

    static boolean ensureCamera(Activity a) {
        if (a.checkSelfPermission(android.Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            return true;
        }
        a.requestPermissions(new String[] {android.Manifest.permission.CAMERA}, CAMERA_REQUEST);
        return false;
    }
}
