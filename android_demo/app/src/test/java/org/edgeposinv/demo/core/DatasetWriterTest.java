package org.edgeposinv.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Date;
import java.util.List;
import org.json.JSONObject;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** Capture mode writes the layout and manifest of docs/dataset-format.md and never overwrites. */
public class DatasetWriterTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void writesImagesAndManifestLines() throws Exception {
        File root = tmp.newFolder("DATA");
        String session = DatasetWriter.newSessionId(new Date(0));
        assertTrue(session, session.matches("19700101T000000-[0-9a-f]{4}"));
        DatasetWriter w = new DatasetWriter(root, session);
        JSONObject fields = new JSONObject().put("source", new JSONObject().put("kind", "android").put("id", "0"))
                .put("guide", CaptureGuide.standard().step(0).toJson()).put("timestamp", DatasetWriter.timestamp(new Date(0)));
        JSONObject e1 = w.write("rock", new byte[] {1, 2, 3}, fields);
        JSONObject e2 = w.write("paper", new byte[] {4}, fields);
        assertEquals("rock/" + session + "_0001.jpg", e1.getString("path"));
        assertEquals(2, e2.getInt("seq"));
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(new File(root, e1.getString("path")).toPath()));
        List<String> lines = Files.readAllLines(new File(root, "manifest.jsonl").toPath(), StandardCharsets.UTF_8);
        assertEquals(2, lines.size());
        JSONObject line = new JSONObject(lines.get(0));
        assertEquals("rock", line.getString("label"));
        assertEquals(session, line.getString("session"));
        assertEquals("top-left", line.getJSONObject("guide").getString("cell_name"));
        assertEquals("1970-01-01T00:00:00.000Z", line.getString("timestamp"));
    }

    @Test
    public void aNewSessionContinuesAndNeverOverwrites() throws Exception {
        File root = tmp.newFolder("DATA");
        new DatasetWriter(root, "s1").write("rock", new byte[] {9}, null);
        File squatter = new File(root, "rock/s2_0002.jpg");
        Files.write(squatter.toPath(), new byte[] {7, 7});
        DatasetWriter second = new DatasetWriter(root, "s2");
        JSONObject e = second.write("rock", new byte[] {5}, null);
        assertEquals("rock/s2_0003.jpg", e.getString("path"));
        assertArrayEquals("a file already there is left alone", new byte[] {7, 7}, Files.readAllBytes(squatter.toPath()));
        assertEquals(1, (int) second.counts().get("rock"));
        assertEquals(2, Files.readAllLines(new File(root, "manifest.jsonl").toPath()).size());
    }

    @Test(expected = IllegalArgumentException.class)
    public void aLabelWithASlashIsRefused() {
        DatasetWriter.checkLabel("a/b");
    }
}
