package org.edgeposinv.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import android.graphics.SurfaceTexture;
import android.hardware.camera2.CameraCharacteristics;
import android.view.TextureView;
import android.view.View;
import android.view.ViewGroup;
import android.widget.EditText;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import org.edgeposinv.demo.core.CaptureGuide;
import org.edgeposinv.demo.core.DatasetWriter;
import org.edgeposinv.demo.core.OpenSet;
import org.edgeposinv.demo.core.RgbImage;
import org.json.JSONObject;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.android.controller.ActivityController;

@RunWith(RobolectricTestRunner.class)
public class CaptureActivityTest {
    private static View root(CaptureActivity a) {
        return a.findViewById(android.R.id.content);
    }

    private static EditText labelField(View v) {
        if (v instanceof EditText) {
            return (EditText) v;
        }
        if (v instanceof ViewGroup) {
            for (int i = 0; i < ((ViewGroup) v).getChildCount(); i++) {
                EditText e = labelField(((ViewGroup) v).getChildAt(i));
                if (e != null) {
                    return e;
                }
            }
        }
        return null;
    }

    private static RgbImage frame(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) (i * 7 + (i / (w * 3)) * 13);
        }
        return new RgbImage(w, h, rgb);
    }

    @Test
    public void takeWritesTheImageAndItsManifestLineThroughDatasetWriter() throws Exception {
        Screens.addCamera("0", CameraCharacteristics.LENS_FACING_BACK, 90);
        Screens.grantCamera();
        ActivityController<CaptureActivity> c = Robolectric.buildActivity(CaptureActivity.class).create();
        CaptureActivity a = c.get();
        View frameLayout = ((ViewGroup) root(a)).getChildAt(0);
        ((TextureView) ((ViewGroup) frameLayout).getChildAt(0)).setSurfaceTexture(new SurfaceTexture(0));
        c.start().resume();
        Screens.waitFor("the camera", () -> a.cameraRotationDegrees() == 90);

        Screens.button(root(a), "Take").performClick();
        assertTrue(Screens.texts(root(a)).contains("Choose or add a label first."));
        labelField(root(a)).setText("../up");
        Screens.button(root(a), "Add").performClick();
        String refused = Screens.allText(root(a));
        assertTrue(refused, refused.contains("../up"));

        labelField(root(a)).setText("mug");
        Screens.button(root(a), "Add").performClick();
        Screens.button(root(a), "Take").performClick();
        assertTrue(Screens.texts(root(a)).contains("No camera frame yet."));

        a.onFrame(frame(48, 64), 90);
        Screens.button(root(a), "Take").performClick();
        a.onFrame(frame(48, 64), 90);
        Screens.button(root(a), "Take").performClick();

        File data = CaptureActivity.datasetRoot(a);
        List<String> lines = Files.readAllLines(new File(data, DatasetWriter.MANIFEST).toPath(), StandardCharsets.UTF_8);
        assertEquals(2, lines.size());
        JSONObject first = new JSONObject(lines.get(0));
        assertEquals("mug", first.getString("label"));
        assertEquals("android", first.getJSONObject("source").getString("kind"));
        assertEquals(90, first.getJSONObject("device").getInt("rotation_deg"));
        assertEquals(48, first.getJSONObject("device").getInt("width"));
        assertTrue(first.has("guide") && first.has("sharpness") && first.has("exposure") && first.has("timestamp"));
        JSONObject second = new JSONObject(lines.get(1));
        assertEquals(first.getInt("seq") + 1, second.getInt("seq"));
        assertEquals(first.getString("session"), second.getString("session"));
        assertTrue("the guide moves on to the next cell", !first.getJSONObject("guide").toString()
                .equals(second.getJSONObject("guide").toString()));
        for (String line : lines) {
            File image = new File(data, new JSONObject(line).getString("path"));
            assertTrue(image + " written", image.isFile() && image.length() > 0);
        }
        assertTrue(Screens.allText(root(a)), Screens.allText(root(a)).contains("mug: 2 this session"));
        c.pause().destroy();
    }

    /** "None of the classes" selects _background, guides it with the background prompts, and Take writes under _background/. */
    @Test
    public void aBackgroundCaptureIsWrittenUnderTheReservedFolder() throws Exception {
        Screens.addCamera("0", CameraCharacteristics.LENS_FACING_BACK, 90);
        Screens.grantCamera();
        ActivityController<CaptureActivity> c = Robolectric.buildActivity(CaptureActivity.class).create();
        CaptureActivity a = c.get();
        View frameLayout = ((ViewGroup) root(a)).getChildAt(0);
        ((TextureView) ((ViewGroup) frameLayout).getChildAt(0)).setSurfaceTexture(new SurfaceTexture(0));
        c.start().resume();
        Screens.waitFor("the camera", () -> a.cameraRotationDegrees() == 90);

        Screens.button(root(a), "None of the classes").performClick();
        String shown = Screens.allText(root(a));
        assertTrue(shown, shown.contains("_background (none of the classes: empty scene, other objects, idle hands): 0 this session"));
        assertTrue(shown, shown.contains("next: top-left, the empty scene"));
        a.onFrame(frame(48, 64), 90);
        Screens.button(root(a), "Take").performClick();

        File data = CaptureActivity.datasetRoot(a);
        List<String> lines = Files.readAllLines(new File(data, DatasetWriter.MANIFEST).toPath(), StandardCharsets.UTF_8);
        assertEquals(1, lines.size());
        JSONObject line = new JSONObject(lines.get(0));
        assertEquals(OpenSet.RESERVED_LABEL, line.getString("label"));
        assertTrue(line.getString("path"), line.getString("path").startsWith("_background/"));
        assertTrue(CaptureGuide.BACKGROUND_PROMPTS.contains(line.getJSONObject("guide").getString("angle")));
        File image = new File(data, line.getString("path"));
        assertTrue(image + " written", image.isFile() && image.length() > 0);
        assertTrue(Screens.allText(root(a)), Screens.allText(root(a)).contains("idle hands): 1 this session"));
        c.pause().destroy();
    }
}
