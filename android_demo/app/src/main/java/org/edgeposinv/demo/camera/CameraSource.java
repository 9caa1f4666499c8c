package org.edgeposinv.demo.camera;

import android.annotation.SuppressLint;
import android.content.Context;
import android.graphics.ImageFormat;
import android.graphics.SurfaceTexture;
import android.hardware.camera2.CameraAccessException;
import android.hardware.camera2.CameraCaptureSession;
import android.hardware.camera2.CameraCharacteristics;
import android.hardware.camera2.CameraDevice;
import android.hardware.camera2.CameraManager;
import android.hardware.camera2.CaptureRequest;
import android.hardware.camera2.params.StreamConfigurationMap;
import android.media.Image;
import android.media.ImageReader;
import android.os.Handler;
import android.os.HandlerThread;
import android.util.Size;
import android.view.Surface;
import android.view.TextureView;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import org.edgeposinv.demo.core.Orientation;
import org.edgeposinv.demo.core.RgbImage;
import org.edgeposinv.demo.core.Yuv;

/**
 * The back camera through Camera2: a preview on a TextureView and YUV frames delivered,
 * upright (rotated by the sensor orientation), on a background thread. A frame that arrives
 * while the previous one is still being handled is dropped.
 */
public final class CameraSource {
    public interface FrameListener {
        /** Called on the camera thread with the upright RGB frame. */
        void onFrame(RgbImage upright, int rotationDegrees);

        void onError(String message);
    }

    private static final int TARGET_WIDTH = 640;
    private static final int TARGET_HEIGHT = 480;

    private final Context context;
    private final TextureView preview;
    private volatile boolean stopped;
    private volatile boolean streaming;
    private final FrameListener listener;
    private final AtomicBoolean busy = new AtomicBoolean(false);
    private HandlerThread thread;
    private Handler handler;
    private CameraDevice camera;
    private CameraCaptureSession session;
    private ImageReader reader;
    private int sensorOrientation;
    private Size frameSize;

    public CameraSource(Context context, TextureView preview, FrameListener listener) {
        this.context = context;
        this.preview = preview;
        this.listener = listener;
    }

    public Size frameSize() {
        return frameSize;
    }

    /** The id of the camera device now open, null when none is. */
    public String cameraId() {
        CameraDevice c = camera;
        return c == null ? null : c.getId();
    }

    /** Whether the preview and frame stream runs (the repeating request was accepted). */
    public boolean isStreaming() {
        return streaming;
    }

    /** The clockwise rotation that makes a sensor frame upright (the activities are portrait). */
    public int rotationDegrees() {
        return sensorOrientation;
    }

    @SuppressLint("MissingPermission")  // the activities request CAMERA before starting
    public void start() {
        thread = new HandlerThread("camera");
        thread.start();
        handler = new Handler(thread.getLooper());
        CameraManager manager = (CameraManager) context.getSystemService(Context.CAMERA_SERVICE);
        try {
            String id = backCamera(manager);
            CameraCharacteristics chars = manager.getCameraCharacteristics(id);
            Integer orientation = chars.get(CameraCharacteristics.SENSOR_ORIENTATION);
            sensorOrientation = orientation == null ? 0 : orientation;
            frameSize = chooseSize(chars.get(CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP));
            reader = ImageReader.newInstance(frameSize.getWidth(), frameSize.getHeight(), ImageFormat.YUV_420_888, 2);
            reader.setOnImageAvailableListener(this::onImage, handler);
            manager.openCamera(id, new CameraDevice.StateCallback() {
                @Override
                public void onOpened(CameraDevice device) {
                    if (stopped) {  // paused while the camera was opening
                        device.close();
                        return;
                    }
                    camera = device;
                    startSession();
                }

                @Override
                public void onDisconnected(CameraDevice device) {
                    device.close();
                    camera = null;
                }

                @Override
                public void onError(CameraDevice device, int error) {
                    device.close();
                    camera = null;
                    listener.onError("camera error " + error);
                }
            }, handler);
        } catch (CameraAccessException | RuntimeException e) {
            listener.onError("cannot open the camera: " + e.getMessage());
        }
    }

    private static String backCamera(CameraManager manager) throws CameraAccessException {
        String[] ids = manager.getCameraIdList();
        for (String id : ids) {
            Integer facing = manager.getCameraCharacteristics(id).get(CameraCharacteristics.LENS_FACING);
            if (facing != null && facing == CameraCharacteristics.LENS_FACING_BACK) {
                return id;
            }
        }
        if (ids.length == 0) {
            throw new IllegalStateException("this device has no camera");
        }
        return ids[0];
    }

    private static Size chooseSize(StreamConfigurationMap map) {
        Size best = new Size(TARGET_WIDTH, TARGET_HEIGHT);
        if (map == null) {
            return best;
        }
        long bestCost = Long.MAX_VALUE;
        for (Size s : map.getOutputSizes(ImageFormat.YUV_420_888)) {
            long cost = Math.abs((long) s.getWidth() * s.getHeight() - (long) TARGET_WIDTH * TARGET_HEIGHT);
            if (cost < bestCost) {
                bestCost = cost;
                best = s;
            }
        }
        return best;
    }

    @SuppressWarnings("deprecation")  // createCaptureSession(List, ...) is the API 24 form
    private void startSession() {
        try {
            SurfaceTexture texture = preview.getSurfaceTexture();
            if (texture == null) {
                listener.onError("the preview surface is not ready");
                return;
            }
            texture.setDefaultBufferSize(frameSize.getWidth(), frameSize.getHeight());
            Surface previewSurface = new Surface(texture);
            CaptureRequest.Builder request = camera.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW);
            request.addTarget(previewSurface);
            request.addTarget(reader.getSurface());
            camera.createCaptureSession(Arrays.asList(previewSurface, reader.getSurface()),
                    new CameraCaptureSession.StateCallback() {
                        @Override
                        public void onConfigured(CameraCaptureSession s) {
                            session = s;
                            try {
                                s.setRepeatingRequest(request.build(), null, handler);
                                streaming = true;
                            } catch (CameraAccessException | IllegalStateException e) {
                                listener.onError("cannot start the preview: " + e.getMessage());
                            }
                        }

                        @Override
                        public void onConfigureFailed(CameraCaptureSession s) {
                            listener.onError("the camera refused the preview configuration");
                        }
                    }, handler);
        } catch (CameraAccessException | IllegalStateException e) {
            listener.onError("cannot start the preview: " + e.getMessage());
        }
    }

    private void onImage(ImageReader r) {
        Image image = r.acquireLatestImage();
        if (image == null) {
            return;
        }
        if (!busy.compareAndSet(false, true)) {
            image.close();
            return;
        }
        try {
            RgbImage frame = toRgb(image);
            image.close();
            image = null;
            int rotation = rotationDegrees();
            listener.onFrame(Orientation.apply(frame, Orientation.fromRotationDegrees(rotation)), rotation);
        } catch (RuntimeException e) {
            listener.onError("frame handling failed: " + e);
        } finally {
            if (image != null) {
                image.close();
            }
            busy.set(false);
        }
    }

    private static RgbImage toRgb(Image image) {
        Image.Plane[] planes = image.getPlanes();
        return Yuv.toRgb(bytes(planes[0].getBuffer()), bytes(planes[1].getBuffer()), bytes(planes[2].getBuffer()),
                image.getWidth(), image.getHeight(), planes[0].getRowStride(), planes[1].getRowStride(),
                planes[1].getPixelStride());
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** Starts now if the preview surface exists, otherwise as soon as it appears (unless stopped first). */
    public void startWhenPreviewReady() {
        stopped = false;
        if (preview.isAvailable()) {
            start();
            return;
        }
        preview.setSurfaceTextureListener(new TextureView.SurfaceTextureListener() {
            @Override
            public void onSurfaceTextureAvailable(SurfaceTexture s, int w, int h) {
                if (!stopped) {
                    start();
                }
            }

            @Override
            public void onSurfaceTextureSizeChanged(SurfaceTexture s, int w, int h) {}

            @Override
            public boolean onSurfaceTextureDestroyed(SurfaceTexture s) {
                return true;
            }

            @Override
            public void onSurfaceTextureUpdated(SurfaceTexture s) {}
        });
    }

    public void stop() {
        stopped = true;
        streaming = false;
        if (session != null) {
            session.close();
            session = null;
        }
        if (camera != null) {
            camera.close();
            camera = null;
        }
        if (reader != null) {
            reader.close();
            reader = null;
        }
        if (thread != null) {
            thread.quitSafely();
            thread = null;
        }
    }
}
