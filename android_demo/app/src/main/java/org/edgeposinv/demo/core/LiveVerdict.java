package org.edgeposinv.demo.core;

import java.util.List;
import java.util.Locale;

/**
 * What live mode shows for one frame: the top-k labels, or, when the model's open-set rule
 * rejects the frame, "none of the classes" followed by the top class and its score (the part
 * from {@link #dimFrom} on is shown dimmed). A model without an open-set rule is never rejected,
 * so it shows the top-k labels as before.
 */
public final class LiveVerdict {
    public static final String NONE_TEXT = "none of the classes";

    /** True when the frame was rejected ("none of the classes"). */
    public final boolean none;
    /** The lines to show (ends with a newline). */
    public final String text;
    /** Index in {@link #text} from which the characters are shown dimmed; {@code text.length()} for none. */
    public final int dimFrom;

    private LiveVerdict(boolean none, String text, int dimFrom) {
        this.none = none;
        this.text = text;
        this.dimFrom = dimFrom;
    }

    /** The verdict for one row of probabilities, showing up to {@code k} classes (never the reserved label). */
    public static LiveVerdict of(OpenSet rule, List<String> labels, float[] probs, int k) {
        OpenSet.Decision d = rule.decide(probs);
        if (d.rejected()) {
            String head = NONE_TEXT + "\n";
            String top = String.format(Locale.ROOT, "(top: %s  %.1f%%)%n", labels.get(topClass(rule, probs)), 100 * d.score);
            return new LiveVerdict(true, head + top, head.length());
        }
        StringBuilder sb = new StringBuilder();
        boolean[] used = new boolean[probs.length];
        if (rule.reservedIndex >= 0) {
            used[rule.reservedIndex] = true;
        }
        for (int rank = 1; rank <= k; rank++) {
            int best = -1;
            for (int i = 0; i < probs.length; i++) {
                if (!used[i] && (best < 0 || probs[i] > probs[best])) {
                    best = i;
                }
            }
            if (best < 0) {
                break;
            }
            used[best] = true;
            sb.append(String.format(Locale.ROOT, "%d. %s  %.1f%%%n", rank, labels.get(best), 100 * probs[best]));
        }
        return new LiveVerdict(false, sb.toString(), sb.length());
    }

    private static int topClass(OpenSet rule, float[] probs) {
        int best = -1;
        for (int i = 0; i < probs.length; i++) {
            if (i != rule.reservedIndex && (best < 0 || probs[i] > probs[best])) {
                best = i;
            }
        }
        return best;
    }
}
