package org.edgeposinv.demo.camera;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;
import static org.robolectric.Shadows.shadowOf;

import android.content.pm.PackageManager;
import android.graphics.SurfaceTexture;
import android.hardware.camera2.CameraCharacteristics;
import android.hardware.camera2.CameraDevice;
import android.os.Bundle;
import java.util.ArrayList;
import java.util.List;
import org.edgeposinv.demo.Screens;
import org.edgeposinv.demo.core.RgbImage;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.android.controller.ActivityController;
import org.robolectric.shadows.ShadowActivity;
import org.robolectric.shadows.ShadowCameraManager;
import org.robolectric.util.ReflectionHelpers;

/** The camera lifecycle of live and capture modes, against Robolectric's shadowed CameraManager. */
@RunWith(RobolectricTestRunner.class)
public class CameraActivityTest {
    /** The smallest camera mode: the preview as its layout, messages recorded. */
    public static final class Probe extends CameraActivity {
        final List<String> messages = new ArrayList<>();

        @Override
        protected void onCreate(Bundle state) {
            super.onCreate(state);
            setContentView(preview);
        }

        @Override
        protected void showStatus(String message) {
            messages.add(message);
        }

        @Override
        protected String modeName() {
            return "Probe";
        }

        @Override
        public void onFrame(RgbImage upright, int rotationDegrees) {}
    }

    /** Created, with a preview surface as a phone's TextureView has one once laid out, not yet resumed. */
    private static ActivityController<Probe> created() {
        ActivityController<Probe> c = Robolectric.buildActivity(Probe.class).create();
        c.get().preview.setSurfaceTexture(new SurfaceTexture(0));
        return c;
    }

    private static CameraDevice lastOpenedDevice() {
        return ReflectionHelpers.getStaticField(ShadowCameraManager.class, "lastDevice");
    }

    @Test
    public void backCameraStreamsUprightAndIsReleasedOnPause() {
        Screens.addCamera("0", CameraCharacteristics.LENS_FACING_FRONT, 270);
        Screens.addCamera("1", CameraCharacteristics.LENS_FACING_BACK, 90);
        Screens.grantCamera();
        ActivityController<Probe> c = created().start().resume();
        Probe a = c.get();
        CameraSource source = a.cameraSource();
        assertNotNull(source);
        Screens.waitFor("the capture session's repeating request", source::isStreaming);
        assertEquals("the back camera, not the first one listed", "1", source.cameraId());
        assertEquals("frames rotated by the sensor orientation", 90, source.rotationDegrees());
        assertEquals(90, a.cameraRotationDegrees());
        assertEquals(640, source.frameSize().getWidth());
        CameraDevice device = lastOpenedDevice();
        assertEquals("1", device.getId());

        c.pause();
        assertNull(a.cameraSource());
        assertFalse(source.isStreaming());
        assertNull(source.cameraId());
        assertThrows("the device is closed", IllegalStateException.class,
                () -> device.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW));
        assertTrue(a.messages.toString(), a.messages.isEmpty());

        c.resume();  // back from another app: a new session on the back camera
        CameraSource again = a.cameraSource();
        Screens.waitFor("the session after resuming", again::isStreaming);
        assertEquals("1", again.cameraId());
        c.pause().stop().destroy();
    }

    @Test
    public void releasedOnDestroyToo() {
        Screens.addCamera("0", CameraCharacteristics.LENS_FACING_BACK, 0);
        Screens.grantCamera();
        ActivityController<Probe> c = created().start().resume();
        CameraSource source = c.get().cameraSource();
        Screens.waitFor("the session", source::isStreaming);
        assertEquals(0, source.rotationDegrees());
        CameraDevice device = lastOpenedDevice();
        c.destroy();  // without a pause first
        assertNull(c.get().cameraSource());
        assertFalse(source.isStreaming());
        assertThrows(IllegalStateException.class, () -> device.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW));
    }

    @Test
    public void onlyCameraFacingFrontIsUsedWhenThereIsNoBackOne() {
        Screens.addCamera("7", CameraCharacteristics.LENS_FACING_FRONT, 270);
        Screens.grantCamera();
        ActivityController<Probe> c = created().start().resume();
        CameraSource source = c.get().cameraSource();
        Screens.waitFor("the session", source::isStreaming);
        assertEquals("7", source.cameraId());
        assertEquals(270, source.rotationDegrees());
        c.pause();
    }

    @Test
    public void noCameraIsSaid() {
        Screens.grantCamera();
        ActivityController<Probe> c = created().start().resume();
        Probe a = c.get();
        Screens.waitFor("a message", () -> !a.messages.isEmpty());
        assertEquals("cannot open the camera: this device has no camera", a.messages.get(0));
        assertFalse(a.cameraSource().isStreaming());
        c.pause();
    }

    @Test
    public void permissionIsAskedThenGrantedOpensOneCamera() {
        Screens.addCamera("0", CameraCharacteristics.LENS_FACING_BACK, 90);
        ActivityController<Probe> c = created().start().resume();
        Probe a = c.get();
        ShadowActivity.PermissionsRequest asked = shadowOf(a).getLastRequestedPermission();
        assertNotNull("the camera permission is requested", asked);
        assertEquals(android.Manifest.permission.CAMERA, asked.requestedPermissions[0]);
        assertNull(a.cameraSource());

        c.pause();  // the permission dialog covers the activity
        Screens.grantCamera();
        a.onRequestPermissionsResult(asked.requestCode, asked.requestedPermissions,
                new int[] {PackageManager.PERMISSION_GRANTED});
        CameraSource source = a.cameraSource();
        assertNotNull(source);
        c.resume();
        assertSame("resuming after the grant does not open a second camera", source, a.cameraSource());
        Screens.waitFor("the session", source::isStreaming);
        c.pause();
    }

    @Test
    public void permissionRefusedIsSaid() {
        Screens.addCamera("0", CameraCharacteristics.LENS_FACING_BACK, 90);
        ActivityController<Probe> c = created().start().resume();
        Probe a = c.get();
        ShadowActivity.PermissionsRequest asked = shadowOf(a).getLastRequestedPermission();
        a.onRequestPermissionsResult(asked.requestCode, asked.requestedPermissions,
                new int[] {PackageManager.PERMISSION_DENIED});
        assertNull(a.cameraSource());
        assertEquals("Probe mode needs the camera permission.", a.messages.get(0));
        c.pause();
    }
}
