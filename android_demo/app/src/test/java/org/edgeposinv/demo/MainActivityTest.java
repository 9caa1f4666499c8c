package org.edgeposinv.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.robolectric.Shadows.shadowOf;

import android.content.Intent;
import android.view.View;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;

@RunWith(RobolectricTestRunner.class)
public class MainActivityTest {
    @Test
    public void mainScreenOffersTheModesAndNavigates() {
        MainActivity a = Robolectric.buildActivity(MainActivity.class).setup().get();
        View root = a.findViewById(android.R.id.content);
        String shown = Screens.allText(root);
        assertTrue(shown, shown.contains("edgeposinv device-eval MODEL.tflite --set wild=DIR --report OUT"));
        assertTrue(shown, shown.contains("Captured datasets: "));

        Screens.button(root, "Live").performClick();
        Intent next = shadowOf(a).getNextStartedActivity();
        assertEquals(LiveActivity.class.getName(), next.getComponent().getClassName());
        Screens.button(root, "Capture").performClick();
        next = shadowOf(a).getNextStartedActivity();
        assertEquals(CaptureActivity.class.getName(), next.getComponent().getClassName());
    }

    /** The JVM has no TensorFlow Lite native code, like a phone whose ABI or page size the APK does not fit. */
    @Test
    public void aTensorFlowLiteThatCannotLoadIsExplainedAtStartUp() {
        MainActivity a = Robolectric.buildActivity(MainActivity.class).setup().get();
        String shown = Screens.allText(a.findViewById(android.R.id.content));
        assertTrue(shown, shown.contains("TensorFlow Lite's native library cannot be loaded on this phone (ABIs: "));
        assertTrue(shown, shown.contains("tensorflowlite_jni"));
    }
}
