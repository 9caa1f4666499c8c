package org.edgeposinv.demo.ui;

import android.app.Activity;
import android.graphics.Color;
import android.view.View;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.LinearLayout;
import android.widget.Spinner;
import android.widget.TextView;
import java.util.List;

/** Builders for the views of the code-built screens (no XML resources, so every source compiles without aapt). */
public final class Views {
    private Views() {}

    public static TextView text(Activity a, String s, float sizeSp) {
        TextView t = new TextView(a);
        t.setText(s);
        t.setTextSize(sizeSp);
        t.setTextColor(Color.WHITE);
        t.setShadowLayer(4f, 0f, 0f, Color.BLACK);
        return t;
    }

    public static Button button(Activity a, String label, View.OnClickListener onClick) {
        Button b = new Button(a);
        b.setText(label);
        b.setAllCaps(false);
        b.setOnClickListener(onClick);
        return b;
    }

    public static Spinner spinner(Activity a, List<String> items, int selected) {
        Spinner s = new Spinner(a);
        ArrayAdapter<String> adapter = new ArrayAdapter<>(a, android.R.layout.simple_spinner_item, items);
        adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        s.setAdapter(adapter);
        s.setSelection(Math.max(0, Math.min(selected, items.size() - 1)));
        return s;
    }

    public static LinearLayout row(Activity a, View... children) {
        LinearLayout l = new LinearLayout(a);
        l.setOrientation(LinearLayout.HORIZONTAL);
        for (View c : children) {
            l.addView(c);
        }
        return l;
    }
}
