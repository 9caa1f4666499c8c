package org.edgeposinv.demo.core;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * Evaluation mode without Android: every image of each named set {@code DIR/<label>/*}
 * goes through the input contract and the model; the result is report.json (schema 1.0,
 * docs/report-schema.md) and predictions.csv, written atomically into the output folder.
 * Progress goes to {@code progress.json} so {@code edgeposinv device-eval} can follow it.
 */
public final class Evaluation {
    public static final String REPORT_JSON = "report.json";
    public static final String PREDICTIONS_CSV = "predictions.csv";
    public static final String PROGRESS_JSON = "progress.json";
    public static final String ERROR_TXT = "error.txt";
    private static final List<String> IMAGE_SUFFIXES = Arrays.asList(".jpg", ".jpeg", ".png", ".bmp", ".webp");

    /** A decoded file: the pixels as stored plus its EXIF orientation (1 when it has none). */
    public static final class Decoded {
        public final RgbImage image;
        public final int exifOrientation;

        public Decoded(RgbImage image, int exifOrientation) {
            this.image = image;
            this.exifOrientation = exifOrientation;
        }
    }

    public interface Decoder {
        Decoded decode(File file) throws IOException;
    }

    /** The interpreter: one prepared image in, the raw output row out. */
    public interface Engine {
        double[] run(RgbImage prepared);
    }

    /** Where the evaluation ran, for {@code runtime} in the report. */
    public static final class Runtime {
        public final String name;
        public final String version;
        public final int threads;
        public final String delegate;
        public final JSONObject platform;

        public Runtime(String name, String version, int threads, String delegate, JSONObject platform) {
            this.name = name;
            this.version = version;
            this.threads = threads;
            this.delegate = delegate;
            this.platform = platform;
        }
    }

    public static final class Item {
        public final String set;
        public final String label;
        public final File file;
        public final String relativePath;

        Item(String set, String label, File file, String relativePath) {
            this.set = set;
            this.label = label;
            this.file = file;
            this.relativePath = relativePath;
        }
    }

    public static boolean isImageName(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        for (String s : IMAGE_SUFFIXES) {
            if (lower.endsWith(s)) {
                return true;
            }
        }
        return false;
    }

    /** Every image of {@code dir/<label>/}, labels and files sorted; checks the labels against the model's. */
    public static List<Item> scanSet(String name, File dir, List<String> modelLabels) {
        File[] labelDirs = dir.listFiles(f -> f.isDirectory() && !f.getName().startsWith("."));
        if (labelDirs == null) {
            throw new IllegalArgumentException("Set '" + name + "': folder " + dir + " does not exist or cannot be read");
        }
        Arrays.sort(labelDirs);
        List<Item> items = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        for (File labelDir : labelDirs) {
            String label = labelDir.getName();
            File[] files = labelDir.listFiles(f -> f.isFile() && isImageName(f.getName()));
            if (files == null || files.length == 0) {
                continue;
            }
            if (!modelLabels.contains(label)) {
                unknown.add(label);
                continue;
            }
            Arrays.sort(files);
            for (File f : files) {
                items.add(new Item(name, label, f, label + "/" + f.getName()));
            }
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("Set '" + name + "' (" + dir + ") has folders that are not model labels: "
                    + String.join(", ", unknown) + ". Model labels: " + String.join(", ", modelLabels));
        }
        if (items.isEmpty()) {
            throw new IllegalArgumentException("Set '" + name + "': no images in " + dir
                    + "/<label>/ (looked for .jpg, .jpeg, .png, .bmp, .webp)");
        }
        return items;
    }

    /** Progress and cancellation hooks (the app updates its screen; tests ignore them). */
    public interface Listener {
        void progress(int done, int total);
    }

    /** Every image under {@code dir} (any depth, sorted): a set of images that are none of the classes. */
    public static List<Item> scanUnknownSet(String name, File dir) {
        List<File> files = new ArrayList<>();
        collect(dir, files);
        if (files.isEmpty()) {
            throw new IllegalArgumentException("Unknown set '" + name + "': no images in " + dir
                    + " (looked for .jpg, .jpeg, .png, .bmp, .webp)");
        }
        List<Item> items = new ArrayList<>();
        String root = dir.getPath();
        for (File f : files) {
            String rel = f.getPath().substring(root.length()).replace(File.separatorChar, '/');
            items.add(new Item(name, "", f, rel.startsWith("/") ? rel.substring(1) : rel));
        }
        return items;
    }

    private static void collect(File dir, List<File> out) {
        File[] entries = dir.listFiles(f -> !f.getName().startsWith("."));
        if (entries == null) {
            return;
        }
        Arrays.sort(entries);
        for (File f : entries) {
            if (f.isDirectory()) {
                collect(f, out);
            } else if (isImageName(f.getName())) {
                out.add(f);
            }
        }
    }

    /** Run the sets and write the report folder; returns report.json's object. */
    public static JSONObject run(ModelContract model, String modelPath, List<String> setNames, List<File> setDirs,
                                 Decoder decoder, Engine engine, Runtime runtime, File outDir, int topK, int warmup,
                                 Listener listener) throws IOException, JSONException {
        return run(model, modelPath, setNames, setDirs, new ArrayList<>(), new ArrayList<>(), decoder, engine, runtime,
                outDir, topK, warmup, listener);
    }

    /**
     * As {@link #run}, plus unknown sets (images of none of the classes): the report's
     * {@code open_set} object, from the rule the model carries ({@link OpenSet}).
     */
    public static JSONObject run(ModelContract model, String modelPath, List<String> setNames, List<File> setDirs,
                                 List<String> unknownNames, List<File> unknownDirs, Decoder decoder, Engine engine,
                                 Runtime runtime, File outDir, int topK, int warmup,
                                 Listener listener) throws IOException, JSONException {
        if (setNames.isEmpty() || setNames.size() != setDirs.size()) {
            throw new IllegalArgumentException("Give at least one set as NAME=DIR");
        }
        if (unknownNames.size() != unknownDirs.size()) {
            throw new IllegalArgumentException("Give unknown sets as NAME=DIR");
        }
        OpenSet rule = OpenSet.of(model.description, model.labels);
        List<String> classLabels = rule.classLabels(model.labels);
        List<List<Item>> sets = new ArrayList<>();
        int total = 0;
        for (int i = 0; i < setNames.size(); i++) {
            List<Item> items = scanSet(setNames.get(i), setDirs.get(i), classLabels);
            sets.add(items);
            total += items.size();
        }
        List<List<Item>> unknownSets = new ArrayList<>();
        for (int i = 0; i < unknownNames.size(); i++) {
            List<Item> items = scanUnknownSet(unknownNames.get(i), unknownDirs.get(i));
            unknownSets.add(items);
            total += items.size();
        }
        List<int[]> knownIds = new ArrayList<>();
        List<List<float[]>> knownScores = new ArrayList<>();
        List<List<float[]>> unknownScores = new ArrayList<>();
        StringBuilder csv = new StringBuilder("set,path,true,predicted,confidence,latency_ms\n");
        JSONObject setsJson = new JSONObject();
        List<Double> latencies = new ArrayList<>();
        int done = 0;
        writeProgress(outDir, 0, total);
        boolean warmedUp = false;
        for (int s = 0; s < sets.size(); s++) {
            List<Item> items = sets.get(s);
            List<Integer> trueIdList = new ArrayList<>();
            List<float[]> scores = new ArrayList<>();
            int skipped = 0;
            for (int i = 0; i < items.size(); i++) {
                Item item = items.get(i);
                Decoded d;
                try {
                    d = decoder.decode(item.file);
                } catch (IOException e) {  // as the host: an undecodable file is counted, not fatal
                    skipped++;
                    done++;
                    continue;
                }
                RgbImage prepared = Preprocess.prepare(d.image, d.exifOrientation, model);
                if (!warmedUp) {
                    for (int w = 0; w < warmup; w++) {
                        engine.run(prepared);
                    }
                    warmedUp = true;
                }
                long t0 = System.nanoTime();
                double[] raw = engine.run(prepared);
                double ms = (System.nanoTime() - t0) / 1e6;
                latencies.add(ms);
                float[] probs = Tensors.dequantize(raw, model.file.output);
                // as the host's predictions.csv: the best known class and its probability
                int pred = rule.bestKnown(probs);
                trueIdList.add(model.labels.indexOf(item.label));
                scores.add(probs);
                csv.append(csvField(setNames.get(s))).append(',').append(csvField(item.relativePath)).append(',')
                        .append(csvField(item.label)).append(',').append(csvField(model.labels.get(pred))).append(',')
                        .append(String.format(Locale.ROOT, "%.4f", probs[pred])).append(',')
                        .append(String.format(Locale.ROOT, "%.3f", ms)).append('\n');
                done++;
                if (listener != null) {
                    listener.progress(done, total);
                }
                if (done % 10 == 0 || done == total) {
                    writeProgress(outDir, done, total);
                }
            }
            if (scores.isEmpty()) {
                throw new IOException("Set '" + setNames.get(s) + "': none of its " + items.size()
                        + " images could be decoded (" + setDirs.get(s) + ")");
            }
            int[] trueIds = new int[trueIdList.size()];
            for (int i = 0; i < trueIds.length; i++) {
                trueIds[i] = trueIdList.get(i);
            }
            knownIds.add(trueIds);
            knownScores.add(scores);
            JSONObject figures = Metrics.setFigures(classIds(trueIds, rule), classScores(scores, rule), classLabels, topK);
            JSONObject set = new JSONObject().put("path", setDirs.get(s).getPath()).put("skipped", skipped);
            for (String key : names(figures)) {
                set.put(key, figures.get(key));
            }
            setsJson.put(setNames.get(s), set);
        }
        for (int s = 0; s < unknownSets.size(); s++) {
            List<float[]> scores = new ArrayList<>();
            for (Item item : unknownSets.get(s)) {
                Decoded d;
                try {
                    d = decoder.decode(item.file);
                } catch (IOException e) {
                    done++;
                    continue;
                }
                RgbImage prepared = Preprocess.prepare(d.image, d.exifOrientation, model);
                long t0 = System.nanoTime();
                double[] raw = engine.run(prepared);
                double ms = (System.nanoTime() - t0) / 1e6;
                float[] probs = Tensors.dequantize(raw, model.file.output);
                OpenSet.Decision decision = rule.decide(probs);
                scores.add(probs);
                csv.append(csvField(unknownNames.get(s))).append(',').append(csvField(item.relativePath)).append(",,")
                        .append(decision.rejected() ? "" : csvField(model.labels.get(decision.index))).append(',')
                        .append(String.format(Locale.ROOT, "%.4f", decision.score)).append(',')
                        .append(String.format(Locale.ROOT, "%.3f", ms)).append('\n');
                done++;
                if (listener != null) {
                    listener.progress(done, total);
                }
            }
            if (scores.isEmpty()) {
                throw new IOException("Unknown set '" + unknownNames.get(s) + "': none of its images could be decoded ("
                        + unknownDirs.get(s) + ")");
            }
            unknownScores.add(scores);
        }
        JSONObject report = report(model, modelPath, runtime, setNames, setsJson, latencies, warmup);
        if (!unknownSets.isEmpty() || rule.scoreThreshold != null || rule.reservedIndex >= 0) {
            report.put("open_set", openSetJson(rule, setNames, knownIds, knownScores, unknownNames, unknownScores));
        }
        AtomicFiles.writeAtomic(new File(outDir, PREDICTIONS_CSV), csv.toString());
        AtomicFiles.writeAtomic(new File(outDir, REPORT_JSON), report.toString(2) + "\n");  // last: its presence means done
        return report;
    }

    private static int[] classIds(int[] ids, OpenSet rule) {
        int[] out = ids.clone();
        for (int i = 0; i < out.length; i++) {
            if (rule.reservedIndex >= 0 && out[i] > rule.reservedIndex) {
                out[i]--;
            }
        }
        return out;
    }

    /** Scores without the reserved output: it is never a class in the metrics. */
    private static List<float[]> classScores(List<float[]> scores, OpenSet rule) {
        if (rule.reservedIndex < 0) {
            return scores;
        }
        List<float[]> out = new ArrayList<>();
        for (float[] p : scores) {
            float[] q = new float[p.length - 1];
            for (int i = 0, j = 0; i < p.length; i++) {
                if (i != rule.reservedIndex) {
                    q[j++] = p[i];
                }
            }
            out.add(q);
        }
        return out;
    }

    /** The report's open_set object (point figures; the host adds bootstrap intervals and curves). */
    static JSONObject openSetJson(OpenSet rule, List<String> setNames, List<int[]> knownIds, List<List<float[]>> known,
                                  List<String> unknownNames, List<List<float[]>> unknown) throws JSONException {
        JSONObject knownSets = new JSONObject();
        JSONObject unknownSets = new JSONObject();
        JSONObject separation = new JSONObject();
        for (int k = 0; k < setNames.size(); k++) {
            JSONObject f = rule.figures(knownIds.get(k), known.get(k), new ArrayList<>());
            knownSets.put(setNames.get(k), f.getJSONObject("known"));
            for (int u = 0; u < unknownNames.size(); u++) {
                JSONObject g = rule.figures(knownIds.get(k), known.get(k), unknown.get(u));
                unknownSets.put(unknownNames.get(u), g.getJSONObject("unknown"));
                separation.put(setNames.get(k) + "|" + unknownNames.get(u), new JSONObject()
                        .put("known_set", setNames.get(k)).put("unknown_set", unknownNames.get(u))
                        .put("n_known", known.get(k).size()).put("n_unknown", unknown.get(u).size())
                        .put("auroc", g.getDouble("auroc")).put("fpr_at_95_tpr", g.getDouble("fpr_at_95_tpr")));
            }
        }
        return new JSONObject()
                .put("score", "max known-class probability")
                .put("threshold", rule.scoreThreshold == null ? JSONObject.NULL : (double) rule.scoreThreshold)
                .put("temperature", rule.temperature)
                .put("known_sets", knownSets)
                .put("unknown_sets", unknownSets)
                .put("separation", separation);
    }

    private static List<String> names(JSONObject o) {
        List<String> keys = new ArrayList<>();
        for (java.util.Iterator<String> it = o.keys(); it.hasNext();) {
            keys.add(it.next());
        }
        return keys;
    }

    static JSONObject report(ModelContract model, String modelPath, Runtime runtime, List<String> setNames,
                             JSONObject sets, List<Double> latencies, int warmup) throws JSONException {
        ModelFile f = model.file;
        JSONArray labels = new JSONArray();
        for (String l : model.labels) {
            labels.put(l);
        }
        JSONObject modelJson = new JSONObject()
                .put("path", modelPath).put("sha256", f.sha256()).put("size_bytes", f.sizeBytes())
                .put("input", new JSONObject().put("height", f.input.shape[1]).put("width", f.input.shape[2])
                        .put("dtype", f.input.dtype).put("scale", (double) f.input.scale).put("zero_point", f.input.zeroPoint))
                .put("output", f.output.toJson())
                .put("quantization", model.quantization)
                .put("labels", labels)
                .put("contract", model.inputJson)
                .put("metadata", metadata(model.description));
        JSONObject runtimeJson = new JSONObject().put("name", runtime.name).put("version", runtime.version)
                .put("threads", runtime.threads).put("delegate", runtime.delegate).put("platform", runtime.platform);
        String reference = setNames.get(0);
        JSONObject ref = sets.getJSONObject(reference);
        JSONObject gaps = new JSONObject();
        for (String name : setNames) {
            if (name.equals(reference)) {
                continue;
            }
            JSONObject s = sets.getJSONObject(name);
            int k = (int) Math.round(s.getDouble("top1") * s.getInt("n"));
            int kRef = (int) Math.round(ref.getDouble("top1") * ref.getInt("n"));
            double[] ci = Metrics.difference(k, s.getInt("n"), kRef, ref.getInt("n"));
            gaps.put(name, new JSONObject().put("reference", reference)
                    .put("difference", s.getDouble("top1") - ref.getDouble("top1"))
                    .put("difference_ci95", new JSONArray().put(ci[0]).put(ci[1]))
                    .put("significant", !(ci[0] <= 0.0 && 0.0 <= ci[1])));
        }
        double[] lat = new double[latencies.size()];
        for (int i = 0; i < lat.length; i++) {
            lat[i] = latencies.get(i);
        }
        JSONObject latency = new JSONObject().put("median", Metrics.percentile(lat, 50)).put("p90", Metrics.percentile(lat, 90))
                .put("runs", lat.length).put("warmup", warmup).put("threads", runtime.threads);
        return new JSONObject()
                .put("schema_version", "1.4")
                .put("generator", new JSONObject().put("name", "edgeposinv").put("version", "0.1.0").put("host", "android"))
                .put("model", modelJson)
                .put("runtime", runtimeJson)
                .put("sets", sets)
                .put("reference", reference)
                .put("gaps", gaps)
                .put("latency_ms", latency);
    }

    /** The embedded description without what the report states elsewhere (labels, input). */
    private static JSONObject metadata(JSONObject description) throws JSONException {
        JSONObject m = new JSONObject();
        for (String key : names(description)) {
            if (!"labels".equals(key) && !"input".equals(key)) {
                m.put(key, description.get(key));
            }
        }
        return m;
    }

    static void writeProgress(File outDir, int done, int total) throws IOException, JSONException {
        AtomicFiles.writeAtomic(new File(outDir, PROGRESS_JSON), new JSONObject().put("done", done).put("total", total).toString() + "\n");
    }

    static String csvField(String v) {
        if (v.contains(",") || v.contains("\"") || v.contains("\n")) {
            return "\"" + v.replace("\"", "\"\"") + "\"";
        }
        return v;
    }
}
