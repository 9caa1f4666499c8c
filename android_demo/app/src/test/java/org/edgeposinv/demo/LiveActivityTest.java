package org.edgeposinv.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.robolectric.Shadows.shadowOf;

import android.app.Activity;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.graphics.SurfaceTexture;
import android.hardware.camera2.CameraCharacteristics;
import android.net.Uri;
import android.view.TextureView;
import android.view.View;
import android.view.ViewGroup;
import android.text.Spanned;
import android.text.style.ForegroundColorSpan;
import java.io.File;
import java.util.Arrays;
import java.util.List;
import org.edgeposinv.demo.core.Golden;
import org.edgeposinv.demo.core.LiveVerdict;
import org.edgeposinv.demo.core.OpenSet;
import org.json.JSONObject;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.android.controller.ActivityController;
import org.robolectric.shadows.ShadowActivity;

@RunWith(RobolectricTestRunner.class)
public class LiveActivityTest {
    private static final String NO_MODEL = "No model in the app's assets: pick a .tflite exported by edgeposinv";

    private static View root(Activity a) {
        return a.findViewById(android.R.id.content);
    }

    /** Created, its preview given a surface as a laid-out phone screen has, and the bundled-model check done. */
    private static ActivityController<LiveActivity> created() {
        ActivityController<LiveActivity> c = Robolectric.buildActivity(LiveActivity.class).create();
        View frame = ((ViewGroup) root(c.get())).getChildAt(0);
        ((TextureView) ((ViewGroup) frame).getChildAt(0)).setSurfaceTexture(new SurfaceTexture(0));
        Screens.waitFor("the bundled-model check", () -> Screens.allText(root(c.get())).contains(NO_MODEL));
        return c;
    }

    @Test
    public void withoutAModelTheScreenSaysHowToGetOne() {
        ActivityController<LiveActivity> c = created();
        String shown = Screens.allText(root(c.get()));
        assertTrue(shown, shown.contains("--android-assets android_demo/app/src/main/assets"));
        assertNotNull(Screens.button(root(c.get()), "Pick model"));
        c.destroy();
    }

    @Test
    public void withoutPermissionItAsksAndARefusalIsSaid() {
        Screens.addCamera("0", CameraCharacteristics.LENS_FACING_BACK, 90);
        ActivityController<LiveActivity> c = created().start().resume();
        LiveActivity a = c.get();
        ShadowActivity.PermissionsRequest asked = shadowOf(a).getLastRequestedPermission();
        assertEquals(android.Manifest.permission.CAMERA, asked.requestedPermissions[0]);
        a.onRequestPermissionsResult(asked.requestCode, asked.requestedPermissions, new int[] {PackageManager.PERMISSION_DENIED});
        assertTrue(Screens.texts(root(a)).contains("Live mode needs the camera permission."));
        c.pause().destroy();
    }

    @Test
    public void noCameraIsSaid() {
        Screens.grantCamera();
        ActivityController<LiveActivity> c = created().start().resume();
        Screens.waitFor("the camera error", () -> Screens.texts(root(c.get()))
                .contains("cannot open the camera: this device has no camera"));
        c.pause().destroy();
    }

    @Test
    public void withTheCameraThereIsNoErrorAndPauseReleasesIt() {
        Screens.addCamera("0", CameraCharacteristics.LENS_FACING_BACK, 90);
        Screens.grantCamera();
        ActivityController<LiveActivity> c = created().start().resume();
        Screens.waitFor("streaming", () -> c.get().cameraRotationDegrees() == 90);
        String shown = Screens.allText(root(c.get()));
        assertTrue(shown, shown.contains(NO_MODEL));  // no camera message replaced it
        c.pause();
        assertEquals(0, c.get().cameraRotationDegrees());
        c.destroy();
    }

    /** A picked model on a phone whose TensorFlow Lite cannot load: a message, not a dead app. */
    @Test
    public void aPickedModelThatCannotRunSaysWhy() {
        ActivityController<LiveActivity> c = created();
        LiveActivity a = c.get();
        File model = new File(Golden.dir(), "shapes_int8.tflite");
        a.onActivityResult(11, Activity.RESULT_OK, new Intent().setData(Uri.fromFile(model)));
        Screens.waitFor("the classifier's verdict", () -> Screens.allText(root(a)).contains("cannot run shapes_int8.tflite"));
        String shown = Screens.allText(root(a));
        assertTrue(shown, shown.contains("TensorFlow Lite's native library cannot be loaded on this phone"));
        c.destroy();
    }

    /** "none of the classes" is shown with the top score dimmed; an accepted frame shows no dimmed text. */
    @Test
    public void noneOfTheClassesIsShownWithTheTopScoreDimmed() throws Exception {
        List<String> labels = Arrays.asList("paper", "rock");
        OpenSet rule = OpenSet.of(new JSONObject().put("open_set", new JSONObject().put("score_threshold", 0.8)), labels);
        CharSequence none = LiveActivity.display(LiveVerdict.of(rule, labels, new float[] {0.4f, 0.6f}, 3), "inference 1.0 ms");
        String text = none.toString();
        assertTrue(text, text.startsWith("none of the classes"));
        assertTrue(text, text.endsWith("inference 1.0 ms"));
        ForegroundColorSpan[] spans = ((Spanned) none).getSpans(0, none.length(), ForegroundColorSpan.class);
        assertEquals(1, spans.length);
        assertEquals(LiveActivity.DIMMED, spans[0].getForegroundColor());
        String dimmed = text.substring(((Spanned) none).getSpanStart(spans[0]), ((Spanned) none).getSpanEnd(spans[0]));
        assertEquals("(top: rock  60.0%)", dimmed.trim());

        CharSequence sure = LiveActivity.display(LiveVerdict.of(rule, labels, new float[] {0.1f, 0.9f}, 3), "");
        assertTrue(sure.toString(), sure.toString().startsWith("1. rock  90.0%"));
        assertEquals(0, ((Spanned) sure).getSpans(0, sure.length(), ForegroundColorSpan.class).length);
    }
}
