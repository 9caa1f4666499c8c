package org.edgeposinv.demo.core;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * Writes a capture session into a dataset folder exactly like {@code edgeposinv capture}
 * (docs/dataset-format.md): {@code <label>/<session>_<seq>.jpg} and one
 * {@code manifest.jsonl} line per image, appended only once the image is complete on disk.
 * Existing files are never overwritten; a new session continues the sequence numbers.
 */
public final class DatasetWriter {
    public static final String MANIFEST = "manifest.jsonl";
    private static final Pattern NAME = Pattern.compile("^(.+)_(\\d{4,})\\.[A-Za-z0-9]+$");
    private static final Pattern LABEL = Pattern.compile("^[^/\\\\.][^/\\\\]*$");

    public final File root;
    public final String session;
    private int nextSeq;
    private final Map<String, Integer> counts = new HashMap<>();

    public DatasetWriter(File root, String session) throws IOException {
        if (!root.isDirectory() && !root.mkdirs()) {
            throw new IOException("cannot create the dataset folder " + root);
        }
        this.root = root;
        this.session = session;
        this.nextSeq = lastSeq() + 1;
    }

    /** {@code YYYYmmddTHHMMSS} (UTC) plus a random 4-hex suffix, e.g. {@code 20261125T234501-a3f2}. */
    public static String newSessionId(Date now) {
        SimpleDateFormat f = new SimpleDateFormat("yyyyMMdd'T'HHmmss", Locale.ROOT);
        f.setTimeZone(TimeZone.getTimeZone("UTC"));
        return f.format(now) + "-" + String.format(Locale.ROOT, "%04x", new SecureRandom().nextInt(0x10000));
    }

    /** ISO 8601 UTC with milliseconds, e.g. {@code 2026-11-25T23:45:01.123Z}. */
    public static String timestamp(Date now) {
        SimpleDateFormat f = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT);
        f.setTimeZone(TimeZone.getTimeZone("UTC"));
        return f.format(now);
    }

    public static String checkLabel(String label) {
        String l = label == null ? "" : label.trim();
        if (l.isEmpty() || !LABEL.matcher(l).matches()) {
            throw new IllegalArgumentException("A label must be a non-empty folder name without '/' or a leading '.'. Got '" + label + "'.");
        }
        return l;
    }

    private int lastSeq() throws IOException {
        int last = 0;
        File manifest = new File(root, MANIFEST);
        if (manifest.isFile()) {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(new FileInputStream(manifest), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    try {
                        last = Math.max(last, new JSONObject(line).optInt("seq", 0));
                    } catch (JSONException e) {
                        // an unreadable line is kept as it is; it just does not count
                    }
                }
            }
        }
        File[] dirs = root.listFiles(File::isDirectory);
        for (File dir : dirs == null ? new File[0] : dirs) {
            String[] names = dir.list();
            for (String name : names == null ? new String[0] : names) {
                Matcher m = NAME.matcher(name);
                if (m.matches()) {
                    last = Math.max(last, Integer.parseInt(m.group(2)));
                }
            }
        }
        return last;
    }

    /**
     * Store one encoded image under {@code label} and append its manifest line; returns the line.
     * {@code fields} holds the optional manifest fields (source, device, guide, ...).
     */
    public synchronized JSONObject write(String label, byte[] jpeg, JSONObject fields) throws IOException, JSONException {
        label = checkLabel(label);
        File dir = new File(root, label);
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new IOException("cannot create " + dir);
        }
        File target;
        while (true) {
            target = new File(dir, String.format(Locale.ROOT, "%s_%04d.jpg", session, nextSeq));
            if (target.createNewFile()) {  // atomic: a name nobody has taken, reserved for us
                break;
            }
            nextSeq++;
        }
        int seq = nextSeq++;
        try {
            AtomicFiles.writeAtomic(target, jpeg);
        } catch (IOException e) {
            target.delete();
            throw e;
        }
        JSONObject entry = new JSONObject(fields == null ? "{}" : fields.toString());
        entry.put("path", label + "/" + target.getName()).put("label", label).put("session", session).put("seq", seq);
        try (FileOutputStream out = new FileOutputStream(new File(root, MANIFEST), true)) {
            out.write((entry.toString() + "\n").getBytes(StandardCharsets.UTF_8));
            out.getFD().sync();
        }
        counts.merge(label, 1, Integer::sum);
        return entry;
    }

    /** Images written by this session, per label. */
    public synchronized Map<String, Integer> counts() {
        return new HashMap<>(counts);
    }
}
