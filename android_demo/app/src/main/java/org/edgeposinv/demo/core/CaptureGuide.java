package org.edgeposinv.demo.core;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * The guided-capture schedule of the desktop tool ({@code edgeposinv.capture.guide}): every
 * grid cell for one angle, then every cell for the next angle; each label walks it on its own.
 */
public final class CaptureGuide {
    public static final List<String> DEFAULT_ANGLES =
            Collections.unmodifiableList(Arrays.asList("upright", "tilted left", "tilted right", "upside down"));

    /** What a {@code _background} session (none of the classes) shows instead of object angles. */
    public static final List<String> BACKGROUND_PROMPTS =
            Collections.unmodifiableList(Arrays.asList("the empty scene", "other objects", "hands doing nothing"));

    public final int rows;
    public final int cols;
    public final List<String> angles;
    public final int shotsPerStep;

    public CaptureGuide(int rows, int cols, List<String> angles, int shotsPerStep) {
        if (rows < 1 || rows > 8 || cols < 1 || cols > 8) {
            throw new IllegalArgumentException("The guide grid must have 1 to 8 rows and columns. Got " + rows + "x" + cols + ".");
        }
        if (angles.isEmpty() || shotsPerStep < 1) {
            throw new IllegalArgumentException("The guide needs at least one angle and one shot per step.");
        }
        this.rows = rows;
        this.cols = cols;
        this.angles = Collections.unmodifiableList(angles);
        this.shotsPerStep = shotsPerStep;
    }

    public static CaptureGuide standard() {
        return new CaptureGuide(3, 3, DEFAULT_ANGLES, 1);
    }

    /** One position of the schedule. */
    public static final class Step {
        public final int rows;
        public final int cols;
        public final int row;
        public final int col;
        public final String angle;

        Step(int rows, int cols, int row, int col, String angle) {
            this.rows = rows;
            this.cols = cols;
            this.row = row;
            this.col = col;
            this.angle = angle;
        }

        public String cellName() {
            return CaptureGuide.cellName(row, col, rows, cols);
        }

        public String prompt() {
            return cellName() + ", " + angle;
        }

        /** The manifest's {@code guide} object. */
        public JSONObject toJson() throws JSONException {
            return new JSONObject().put("grid", new JSONArray().put(rows).put(cols))
                    .put("cell", new JSONArray().put(row).put(col)).put("cell_name", cellName()).put("angle", angle);
        }
    }

    public int stepCount() {
        return rows * cols * angles.size();
    }

    /** The step for a label's {@code nKept}-th kept image (0-based); wraps around. */
    public Step step(int nKept) {
        return step(nKept, null);
    }

    /**
     * The step for {@code label}'s {@code nKept}-th kept image; the reserved {@code _background}
     * label (none of the classes) is prompted with {@link #BACKGROUND_PROMPTS} at each cell.
     */
    public Step step(int nKept, String label) {
        List<String> prompts = OpenSet.RESERVED_LABEL.equals(label) ? BACKGROUND_PROMPTS : angles;
        int i = (nKept / shotsPerStep) % (rows * cols * prompts.size());
        int angle = i / (rows * cols);
        int cell = i % (rows * cols);
        return new Step(rows, cols, cell / cols, cell % cols, prompts.get(angle));
    }

    private static final String[][] ROW_NAMES = {{""}, {"top", "bottom"}, {"top", "middle", "bottom"}};
    private static final String[][] COL_NAMES = {{""}, {"left", "right"}, {"left", "centre", "right"}};

    /** {@code top-left}, {@code centre}, {@code bottom-right}; {@code r2c4} for grids above 3x3. */
    public static String cellName(int row, int col, int rows, int cols) {
        if (rows > 3 || cols > 3) {
            return "r" + (row + 1) + "c" + (col + 1);
        }
        String r = ROW_NAMES[rows - 1][row];
        String c = COL_NAMES[cols - 1][col];
        if ((r.isEmpty() || "middle".equals(r)) && (c.isEmpty() || "centre".equals(c))) {
            return "centre";
        }
        if (r.isEmpty()) {
            return c;
        }
        return c.isEmpty() ? r : r + "-" + c;
    }
}
