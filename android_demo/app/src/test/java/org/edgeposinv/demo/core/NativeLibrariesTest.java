package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import org.junit.Test;

public class NativeLibrariesTest {
    /** What TensorFlowLite.init() 2.16.1 throws on a 16 KB-page phone: the loader's error inside its own message. */
    private static UnsatisfiedLinkError tfliteFailure() {
        UnsatisfiedLinkError loader = new UnsatisfiedLinkError("dlopen failed: \"/data/app/~~x/lib/arm64/libtensorflowlite_jni.so\" "
                + "program alignment (4096) cannot be smaller than system page size (16384)");
        UnsatisfiedLinkError wrapped = new UnsatisfiedLinkError("Failed to load native TensorFlow Lite methods. Check that the "
                + "correct native libraries are present, and, if using a custom native library, have been properly loaded "
                + "via System.loadLibrary():\n" + loader);
        wrapped.initCause(new UnsatisfiedLinkError("'void org.tensorflow.lite.TensorFlowLite.nativeDoNothing()'"));
        return wrapped;
    }

    @Test
    public void sixteenKbPagesAreNamedWithTheWayOut() {
        String m = NativeLibraries.explain(tfliteFailure(), 16384, new String[] {"arm64-v8a"});
        assertTrue(m, m.startsWith("TensorFlow Lite cannot run on this phone: it uses 16 KB memory pages"));
        assertTrue(m, m.contains("aligned for 4 KB pages"));
        assertTrue(m, m.contains("com.google.ai.edge.litert"));
        assertTrue(m, m.endsWith("(dlopen failed: \"/data/app/~~x/lib/arm64/libtensorflowlite_jni.so\" "
                + "program alignment (4096) cannot be smaller than system page size (16384))"));
        assertFalse("one line, as error.txt and device-eval show it", m.contains("\n"));
    }

    @Test
    public void otherFailuresNameTheAbis() {
        String m = NativeLibraries.explain(new UnsatisfiedLinkError("no tensorflowlite_jni in java.library.path"), 4096,
                new String[] {"x86_64", "arm64-v8a"});
        assertEquals("TensorFlow Lite's native library cannot be loaded on this phone (ABIs: x86_64, arm64-v8a): "
                + "no tensorflowlite_jni in java.library.path. Build the APK with this phone's ABI "
                + "(edgeposinv android-apk --abi ...).", m);
        assertTrue(NativeLibraries.explain(new UnsatisfiedLinkError(), 0, new String[0]).contains("java.lang.UnsatisfiedLinkError"));
    }
}
