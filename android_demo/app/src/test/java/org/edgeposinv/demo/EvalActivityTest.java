package org.edgeposinv.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import android.content.Intent;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import org.edgeposinv.demo.core.Evaluation;
import org.edgeposinv.demo.core.Golden;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.RuntimeEnvironment;

/**
 * Evaluation mode's failures: each leaves OUT/error.txt, whose first line is what
 * 'edgeposinv device-eval' prints ("Evaluation failed on SERIAL: <first line>").
 */
@RunWith(RobolectricTestRunner.class)
public class EvalActivityTest {
    @Rule public TemporaryFolder tmp = new TemporaryFolder();

    private static Intent intent(String model, String sets, File out) {
        return new Intent(RuntimeEnvironment.getApplication(), EvalActivity.class)
                .putExtra(EvalActivity.EXTRA_MODEL, model)
                .putExtra(EvalActivity.EXTRA_SETS, sets)
                .putExtra(EvalActivity.EXTRA_OUT, out.getPath())
                .putExtra(EvalActivity.EXTRA_THREADS, 2);
    }

    /** Starts evaluation mode and returns the first line of error.txt, as device-eval shows it. */
    private static String failure(Intent intent, File out) throws Exception {
        EvalActivity a = Robolectric.buildActivity(EvalActivity.class, intent).create().get();
        File error = new File(out, Evaluation.ERROR_TXT);
        Screens.waitFor("error.txt", error::isFile);
        Screens.waitFor("the activity to finish", a::isFinishing);
        assertFalse("no report next to an error", new File(out, Evaluation.REPORT_JSON).exists());
        return Files.readAllLines(error.toPath(), StandardCharsets.UTF_8).get(0);
    }

    private File wildSet() throws Exception {
        File set = tmp.newFolder("wild");
        File circle = new File(set, "circle");
        circle.mkdirs();
        File[] images = new File(Golden.dir(), "images").listFiles();
        Files.copy(images[0].toPath(), new File(circle, images[0].getName()).toPath(), StandardCopyOption.REPLACE_EXISTING);
        return set;
    }

    @Test
    public void withoutExtrasTheScreenSaysWhatItNeeds() {
        EvalActivity a = Robolectric.buildActivity(EvalActivity.class).create().get();
        String shown = Screens.allText(a.findViewById(android.R.id.content));
        assertTrue(shown, shown.startsWith("Evaluation mode needs the extras model, sets (NAME=DIR,...) and out"));
    }

    @Test
    public void malformedSetsAreNamed() throws Exception {
        File out = new File(tmp.getRoot(), "out");
        String line = failure(intent(new File(Golden.dir(), "shapes_int8.tflite").getPath(), "wild", out), out);
        assertEquals("sets must be NAME=DIR[,NAME=DIR...]; got 'wild'", line);
    }

    @Test
    public void malformedUnknownSetsAreNamed() throws Exception {
        File out = new File(tmp.getRoot(), "out");
        Intent i = intent(new File(Golden.dir(), "shapes_int8.tflite").getPath(), "wild=" + wildSet(), out)
                .putExtra(EvalActivity.EXTRA_UNKNOWN_SETS, "shelves=");
        assertEquals("unknown_sets must be NAME=DIR[,NAME=DIR...]; got 'shelves='", failure(i, out));
    }

    @Test
    public void aMissingModelIsNamed() throws Exception {
        File out = new File(tmp.getRoot(), "out");
        File model = new File(tmp.getRoot(), "nowhere.tflite");
        assertEquals("model file " + model + " does not exist",
                failure(intent(model.getPath(), "wild=" + wildSet(), out), out));
    }

    @Test
    public void aFileThatIsNotAModelIsNamed() throws Exception {
        File out = new File(tmp.getRoot(), "out");
        File model = tmp.newFile("labels.tflite");
        Files.write(model.toPath(), "rock\npaper\n".getBytes(StandardCharsets.UTF_8));
        String line = failure(intent(model.getPath(), "wild=" + wildSet(), out), out);
        assertTrue(line, line.toLowerCase(java.util.Locale.ROOT).contains("tflite"));
    }

    /**
     * The JVM has no TensorFlow Lite native code: what a phone whose page size or ABI the APK does
     * not fit sees. Before, the UnsatisfiedLinkError escaped the worker's catch: no error.txt.
     */
    @Test
    public void aNativeLibraryThatCannotLoadBecomesAReason() throws Exception {
        File out = new File(System.getProperty("edgeposinv.out", tmp.getRoot().getPath()), "eval-native-failure");
        new File(out, Evaluation.ERROR_TXT).delete();
        String line = failure(intent(new File(Golden.dir(), "shapes_int8.tflite").getPath(), "wild=" + wildSet(), out), out);
        assertTrue(line, line.startsWith("TensorFlow Lite's native library cannot be loaded on this phone (ABIs: "));
        assertTrue(line, line.contains("tensorflowlite_jni"));
    }
}
