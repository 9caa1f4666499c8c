package org.edgeposinv.demo.camera;

import android.app.Activity;
import android.content.pm.PackageManager;
import android.os.Bundle;
import android.view.TextureView;

/**
 * The camera part of the live and capture modes: the preview, the permission request, and a
 * {@link CameraSource} started on resume (or when the permission is granted) and stopped on
 * pause. Subclasses add {@link #preview} to their layout and say how to show a message.
 */
public abstract class CameraActivity extends Activity implements CameraSource.FrameListener {
    private static final int CAMERA_REQUEST = 7;

    /** Created in {@link #onCreate}; the subclass puts it in its layout. */
    protected TextureView preview;
    private CameraSource camera;

    /** Shows a one-line message to the user; called on the UI thread. */
    protected abstract void showStatus(String message);

    /** The mode's name as the permission message says it ("Live", "Capture"). */
    protected abstract String modeName();

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        preview = new TextureView(this);
    }

    /** The rotation of the current camera frames, 0 before the camera runs. */
    public final int cameraRotationDegrees() {
        CameraSource c = camera;
        return c == null ? 0 : c.rotationDegrees();
    }

    @Override
    protected void onResume() {
        super.onResume();
        if (checkSelfPermission(android.Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            requestPermissions(new String[] {android.Manifest.permission.CAMERA}, CAMERA_REQUEST);
        }
    }

    /** The camera source while the activity is resumed with the permission, else null. */
    protected final CameraSource cameraSource() {
        return camera;
    }

    private void startCamera() {
        if (camera != null) {  // granted in the dialog, then resumed: one camera, not two
            return;
        }
        camera = new CameraSource(this, preview, this);
        camera.startWhenPreviewReady();
    }

    @Override
    public void onRequestPermissionsResult(int request, String[] permissions, int[] grants) {
        super.onRequestPermissionsResult(request, permissions, grants);
        if (request != CAMERA_REQUEST) {
            return;
        }
        if (grants.length > 0 && grants[0] == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            showStatus(modeName() + " mode needs the camera permission.");
        }
    }

    @Override
    protected void onPause() {
        stopCamera();
        super.onPause();
    }

    @Override
    protected void onDestroy() {
        stopCamera();  // normally done on pause already; never leave the device open
        super.onDestroy();
    }

    private void stopCamera() {
        if (camera != null) {
            camera.stop();
            camera = null;
        }
    }

    /** Camera errors arrive on the camera thread. */
    @Override
    public void onError(String message) {
        runOnUiThread(() -> showStatus(message));
    }
}
