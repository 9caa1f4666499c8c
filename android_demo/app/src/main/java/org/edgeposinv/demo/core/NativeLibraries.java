package org.edgeposinv.demo.core;

/**
 * What a failure to load TensorFlow Lite's native code means, in one line a user can act on.
 *
 * <p>The TensorFlow Lite 2.16.1 libraries on Maven Central have 4 KB-aligned LOAD segments
 * ({@code readelf -l}); a phone running 16 KB memory pages (Android 15 and newer on some
 * devices) refuses to load them. The way out is LiteRT's {@code com.google.ai.edge.litert}
 * artifacts, which are 16 KB-aligned (see android_demo/README.md, "16 KB memory pages").
 */
public final class NativeLibraries {
    /** The alignment of the LOAD segments of the bundled TensorFlow Lite libraries. */
    public static final long TFLITE_SEGMENT_ALIGNMENT_BYTES = 4096;

    private NativeLibraries() {}

    /**
     * @param error what loading (or calling into) the native library threw
     * @param pageSizeBytes the device's memory page size, 0 if unknown
     * @param abis the device's ABIs, preferred first (may be empty)
     */
    public static String explain(Throwable error, long pageSizeBytes, String[] abis) {
        String cause = reason(error);
        if (pageSizeBytes > TFLITE_SEGMENT_ALIGNMENT_BYTES) {
            return "TensorFlow Lite cannot run on this phone: it uses " + pageSizeBytes / 1024
                    + " KB memory pages, and the TensorFlow Lite 2.16.1 native libraries in this app are aligned for "
                    + TFLITE_SEGMENT_ALIGNMENT_BYTES / 1024 + " KB pages. Build the app in Android Studio with LiteRT "
                    + "(com.google.ai.edge.litert, 16 KB-aligned); see android_demo/README.md, \"16 KB memory pages\". "
                    + "(" + cause + ")";
        }
        String abi = abis == null || abis.length == 0 ? "unknown" : String.join(", ", abis);
        return "TensorFlow Lite's native library cannot be loaded on this phone (ABIs: " + abi + "): " + cause
                + ". Build the APK with this phone's ABI (edgeposinv android-apk --abi ...).";
    }

    /**
     * The loader's own reason. TensorFlowLite.init() throws "Failed to load native TensorFlow Lite
     * methods. ...:" followed, on the next line, by the loader's error ("dlopen failed: ..."); its
     * cause is only the missing native method, so the last line of the message says most.
     */
    private static String reason(Throwable error) {
        String m = error.getMessage() == null ? error.toString() : error.getMessage().trim();
        String[] lines = m.split("\n");
        String last = lines[lines.length - 1].trim();
        String prefix = UnsatisfiedLinkError.class.getName() + ": ";
        return last.startsWith(prefix) ? last.substring(prefix.length()) : last;
    }
}
