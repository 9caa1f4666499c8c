package org.edgeposinv.demo;

import static org.junit.Assert.fail;
import static org.robolectric.Shadows.shadowOf;

import android.hardware.camera2.CameraCharacteristics;
import android.hardware.camera2.CameraManager;
import android.os.Looper;
import android.view.View;
import android.view.ViewGroup;
import android.widget.Button;
import android.widget.TextView;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.shadows.ShadowCameraCharacteristics;
import org.robolectric.shadows.ShadowCameraManager;

/** Helpers for the Robolectric tests: what a screen shows, its buttons, and waiting for worker threads. */
public final class Screens {
    private Screens() {}

    /** Every text a view tree shows (buttons included), depth first. */
    public static List<String> texts(View root) {
        List<String> out = new ArrayList<>();
        collect(root, out, null);
        return out;
    }

    public static String allText(View root) {
        return String.join("\n", texts(root));
    }

    public static Button button(View root, String label) {
        List<View> found = new ArrayList<>();
        collect(root, new ArrayList<>(), found);
        for (View v : found) {
            if (v instanceof Button && ((Button) v).getText().toString().startsWith(label)) {
                return (Button) v;
            }
        }
        fail("no button '" + label + "' among " + texts(root));
        return null;
    }

    private static void collect(View v, List<String> texts, List<View> views) {
        if (views != null) {
            views.add(v);
        }
        if (v instanceof TextView) {
            texts.add(((TextView) v).getText().toString());
        }
        if (v instanceof ViewGroup) {
            ViewGroup g = (ViewGroup) v;
            for (int i = 0; i < g.getChildCount(); i++) {
                collect(g.getChildAt(i), texts, views);
            }
        }
    }

    /** Runs the main looper until {@code condition} holds (worker threads post back to it); fails after 10 s. */
    public static void waitFor(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            shadowOf(Looper.getMainLooper()).idle();
            if (condition.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted waiting for " + what);
            }
        }
    }

    /** Adds a camera with this facing and sensor orientation to Robolectric's CameraManager. */
    public static void addCamera(String id, int lensFacing, int sensorOrientationDeg) {
        CameraManager manager = (CameraManager) RuntimeEnvironment.getApplication().getSystemService(CameraManager.class);
        CameraCharacteristics chars = ShadowCameraCharacteristics.newCameraCharacteristics();
        ShadowCameraCharacteristics s = shadowOf(chars);
        s.set(CameraCharacteristics.LENS_FACING, lensFacing);
        s.set(CameraCharacteristics.SENSOR_ORIENTATION, sensorOrientationDeg);
        ShadowCameraManager shadow = shadowOf(manager);
        shadow.addCamera(id, chars);
    }

    public static void grantCamera() {
        shadowOf(RuntimeEnvironment.getApplication()).grantPermissions(android.Manifest.permission.CAMERA);
    }
}
