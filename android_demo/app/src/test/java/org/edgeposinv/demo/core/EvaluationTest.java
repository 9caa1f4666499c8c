package org.edgeposinv.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Evaluation mode end to end on the JVM. The TensorFlow Lite native library exists for
 * Android ABIs only, so the interpreter is replayed: for each input the Java side prepared,
 * the engine checks it is the tensor Python fed its real LiteRT interpreter and returns the
 * output row that interpreter produced.
 */
public class EvaluationTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final class ReplayEngine implements Evaluation.Engine {
        final List<byte[]> tensors = new ArrayList<>();
        final List<double[]> outputs = new ArrayList<>();
        int calls;

        @Override
        public double[] run(RgbImage prepared) {
            calls++;
            for (int i = 0; i < tensors.size(); i++) {
                if (Golden.maxAbsDiff(tensors.get(i), prepared.rgb) <= 1) {
                    return outputs.get(i);
                }
            }
            throw new AssertionError("the app prepared an input tensor Python never fed its interpreter");
        }
    }

    @Test
    public void writesTheSharedReportSchema() throws Exception {
        ModelContract model = ModelContract.read(Golden.model());
        JSONArray cases = Golden.json("preprocess.json").getJSONArray("cases");
        File setDir = tmp.newFolder("DATA", "wild");
        ReplayEngine engine = new ReplayEngine();
        int n = 0;
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            if (!c.has("raw_output")) {
                continue;
            }
            String name = c.getString("name");
            String label = name.split("_")[2];
            File dir = new File(setDir, label);
            dir.mkdirs();
            Files.copy(new File(Golden.dir(), "images/" + name + ".src.png").toPath(), new File(dir, name + ".png").toPath());
            engine.tensors.add(Golden.tensor(name));
            engine.outputs.add(Golden.doubles(c.getJSONArray("raw_output")));
            n++;
        }
        File out = new File(System.getProperty("edgeposinv.out", tmp.getRoot().getPath()), "device-report");
        JSONObject platform = new JSONObject().put("system", "Android").put("machine", "arm64-v8a")
                .put("processor", "test").put("device_model", "JVM test").put("android_version", "14");
        Evaluation.Runtime rt = new Evaluation.Runtime("tensorflow-lite", "2.16.1", 2, "cpu", platform);
        int[] seen = {0};
        JSONObject report = Evaluation.run(model, "/data/local/tmp/edgeposinv/model.tflite", Arrays.asList("wild"),
                Arrays.asList(setDir), f -> new Evaluation.Decoded(Golden.png(f), 1), engine, rt, out, 3, 2,
                (done, total) -> seen[0] = done);
        assertEquals(n, seen[0]);
        assertEquals(n + 2, engine.calls);
        assertEquals("android", report.getJSONObject("generator").getString("host"));
        assertEquals("1.4", report.getString("schema_version"));
        assertEquals("int8", report.getJSONObject("model").getJSONObject("metadata").getString("quantization"));
        assertFalse(report.getJSONObject("model").getJSONObject("metadata").has("labels"));
        assertEquals("cpu", report.getJSONObject("runtime").getString("delegate"));
        assertEquals("JVM test", report.getJSONObject("runtime").getJSONObject("platform").getString("device_model"));
        JSONObject wild = report.getJSONObject("sets").getJSONObject("wild");
        assertEquals(n, wild.getInt("n"));
        // golden top-1 labels: circle→square, square→square, triangle→triangle, circle→square, triangle→triangle
        assertEquals(3.0 / 5.0, wild.getDouble("top1"), 1e-12);
        assertEquals(3, wild.getInt("correct"));
        assertEquals(0, wild.getInt("skipped"));
        assertEquals(n, report.getJSONObject("latency_ms").getInt("runs"));
        assertEquals(2, report.getJSONObject("latency_ms").getInt("warmup"));
        JSONObject m = report.getJSONObject("model");
        assertEquals(Golden.bytes("shapes_int8.tflite").length, m.getInt("size_bytes"));
        assertEquals(64, m.getString("sha256").length());
        assertEquals(32, m.getJSONObject("input").getInt("height"));
        assertEquals("uint8", m.getJSONObject("output").getString("dtype"));
        JSONObject onDisk = new JSONObject(new String(Files.readAllBytes(new File(out, "report.json").toPath()), StandardCharsets.UTF_8));
        assertEquals(report.getJSONObject("model").getString("sha256"), onDisk.getJSONObject("model").getString("sha256"));
        assertEquals(wild.getDouble("top1"), onDisk.getJSONObject("sets").getJSONObject("wild").getDouble("top1"), 0.0);
        assertEquals(report.getJSONObject("latency_ms").getDouble("median"),
                onDisk.getJSONObject("latency_ms").getDouble("median"), 0.0);
        List<String> rows = Files.readAllLines(new File(out, "predictions.csv").toPath());
        assertEquals("set,path,true,predicted,confidence,latency_ms", rows.get(0));
        assertEquals(n + 1, rows.size());
        assertTrue(rows.get(1), rows.get(1).startsWith("wild,circle/model_0_circle.png,circle,square,"));
        JSONObject progress = new JSONObject(new String(Files.readAllBytes(new File(out, "progress.json").toPath()), StandardCharsets.UTF_8));
        assertEquals(n, progress.getInt("done"));
    }

    @Test
    public void anUnknownSetGetsTheOpenSetFigures() throws Exception {
        ModelContract model = ModelContract.read(Golden.model());
        model.description.put("open_set", new JSONObject().put("score_threshold", 0.6).put("temperature", 1.0)
                .put("reserved_label", JSONObject.NULL));
        JSONArray cases = Golden.json("preprocess.json").getJSONArray("cases");
        File setDir = tmp.newFolder("known");
        File shelves = tmp.newFolder("shelves");
        ReplayEngine engine = new ReplayEngine();
        int n = 0;
        int acceptedExpected = 0;
        for (int i = 0; i < cases.length(); i++) {
            JSONObject c = cases.getJSONObject(i);
            if (!c.has("raw_output")) {
                continue;
            }
            String name = c.getString("name");
            String label = name.split("_")[2];
            new File(setDir, label).mkdirs();
            File src = new File(Golden.dir(), "images/" + name + ".src.png");
            Files.copy(src.toPath(), new File(setDir, label + "/" + name + ".png").toPath());
            Files.copy(src.toPath(), new File(shelves, name + ".png").toPath());
            engine.tensors.add(Golden.tensor(name));
            double[] raw = Golden.doubles(c.getJSONArray("raw_output"));
            engine.outputs.add(raw);
            float[] probs = Tensors.dequantize(raw, model.file.output);
            acceptedExpected += probs[Metrics.argmax(probs)] >= 0.6f ? 1 : 0;
            n++;
        }
        JSONObject platform = new JSONObject().put("system", "Android").put("machine", "arm64-v8a");
        JSONObject report = Evaluation.run(model, "m.tflite", Arrays.asList("wild"), Arrays.asList(setDir),
                Arrays.asList("shelves"), Arrays.asList(shelves), f -> new Evaluation.Decoded(Golden.png(f), 1), engine,
                new Evaluation.Runtime("tensorflow-lite", "2.16.1", 1, "cpu", platform), tmp.newFolder("out"), 3, 0, null);
        JSONObject o = report.getJSONObject("open_set");
        assertEquals(0.6, o.getDouble("threshold"), 1e-6);
        JSONObject acc = o.getJSONObject("unknown_sets").getJSONObject("shelves").getJSONObject("accepted");
        assertEquals(n, acc.getInt("n"));
        assertEquals(acceptedExpected, acc.getInt("accepted"));
        JSONObject sep = o.getJSONObject("separation").getJSONObject("wild|shelves");
        assertEquals(0.5, sep.getDouble("auroc"), 1e-12);  // the same images on both sides: chance
        assertEquals(acceptedExpected, o.getJSONObject("known_sets").getJSONObject("wild").getJSONObject("at_threshold")
                .getJSONObject("accepted").getInt("accepted"));
    }

    @Test
    public void anUndecodableFileIsCountedNotFatal() throws Exception {
        ModelContract model = ModelContract.read(Golden.model());
        File setDir = tmp.newFolder("set");
        new File(setDir, "square").mkdirs();
        Files.copy(new File(Golden.dir(), "images/model_1_square.src.png").toPath(), new File(setDir, "square/ok.png").toPath());
        Files.write(new File(setDir, "square/broken.png").toPath(), new byte[] {1, 2, 3});
        ReplayEngine engine = new ReplayEngine();
        engine.tensors.add(Golden.tensor("model_1_square"));
        JSONArray cases = Golden.json("preprocess.json").getJSONArray("cases");
        for (int i = 0; i < cases.length(); i++) {
            if ("model_1_square".equals(cases.getJSONObject(i).getString("name"))) {
                engine.outputs.add(Golden.doubles(cases.getJSONObject(i).getJSONArray("raw_output")));
            }
        }
        JSONObject platform = new JSONObject().put("system", "Android").put("machine", "x86_64");
        JSONObject report = Evaluation.run(model, "m.tflite", Arrays.asList("s"), Arrays.asList(setDir),
                f -> new Evaluation.Decoded(Golden.png(f), 1), engine,
                new Evaluation.Runtime("tensorflow-lite", "2.16.1", 1, "cpu", platform), tmp.newFolder("out"), 3, 0, null);
        JSONObject s = report.getJSONObject("sets").getJSONObject("s");
        assertEquals(1, s.getInt("n"));
        assertEquals(1, s.getInt("skipped"));
        assertEquals(1.0, s.getDouble("top1"), 0.0);
    }

    @Test
    public void aFolderThatIsNotALabelIsNamed() throws Exception {
        ModelContract model = ModelContract.read(Golden.model());
        File setDir = tmp.newFolder("bad");
        File hex = new File(setDir, "hexagon");
        hex.mkdirs();
        Files.copy(new File(Golden.dir(), "images/enlarge.src.png").toPath(), new File(hex, "a.png").toPath());
        try {
            Evaluation.scanSet("wild", setDir, model.labels);
            fail("an unknown label folder was accepted");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("hexagon") && e.getMessage().contains("circle, square, triangle"));
        }
    }
}
