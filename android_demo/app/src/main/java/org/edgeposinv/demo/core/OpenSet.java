package org.edgeposinv.demo.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * "None of the above": the open-set rule a model carries in the {@code open_set} object of its
 * {@code edgeposinv.model} entry, identical to Python's {@code edgeposinv.tflite.open_set.decide}
 * (tests/golden/open_set.json proves it).
 *
 * <p>The score of an image is its highest known-class probability (every output but the reserved
 * label's); the image is rejected when the reserved label has the highest probability of all
 * outputs, or when the score is below the threshold. The model's outputs are already calibrated
 * (its temperature is baked in), so the threshold applies to them as they are.
 */
public final class OpenSet {
    public static final String RESERVED_LABEL = "_background";
    /** The index {@link #decide} returns for "none of the classes". */
    public static final int REJECTED = -1;

    /** The threshold on the score, or {@code null} when the model carries none. */
    public final Float scoreThreshold;
    public final double temperature;
    /** Index of the reserved output, or -1. */
    public final int reservedIndex;

    public OpenSet(Float scoreThreshold, double temperature, int reservedIndex) {
        this.scoreThreshold = scoreThreshold;
        this.temperature = temperature;
        this.reservedIndex = reservedIndex;
    }

    /** One answer: a class index or {@link #REJECTED}, and its score. */
    public static final class Decision {
        public final int index;
        public final float score;

        Decision(int index, float score) {
            this.index = index;
            this.score = score;
        }

        public boolean rejected() {
            return index == REJECTED;
        }
    }

    /** The rule of a model description (no {@code open_set}: plain argmax, never rejected). */
    public static OpenSet of(JSONObject description, List<String> labels) {
        JSONObject o = description == null ? null : description.optJSONObject("open_set");
        if (o == null) {
            return new OpenSet(null, 1.0, -1);
        }
        try {
            Float threshold = o.isNull("score_threshold") ? null : (float) o.getDouble("score_threshold");
            String reserved = o.isNull("reserved_label") ? null : o.optString("reserved_label", null);
            int r = reserved == null ? -1 : labels.indexOf(reserved);
            return new OpenSet(threshold, o.optDouble("temperature", 1.0), r);
        } catch (JSONException e) {
            throw new ModelException("the model's open_set entry is not valid (" + e.getMessage() + "); re-export it", e);
        }
    }

    /** The decision for one row of (dequantized) probabilities. */
    public Decision decide(float[] probs) {
        int top = 0;
        int best = -1;
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] > probs[top]) {
                top = i;
            }
            if (i != reservedIndex && (best < 0 || probs[i] > probs[best])) {
                best = i;
            }
        }
        float score = probs[best];
        boolean rejected = (reservedIndex >= 0 && top == reservedIndex)
                || (scoreThreshold != null && score < scoreThreshold);
        return new Decision(rejected ? REJECTED : best, score);
    }

    /** The known class with the highest probability (never the reserved output), no threshold. */
    public int bestKnown(float[] probs) {
        int best = -1;
        for (int i = 0; i < probs.length; i++) {
            if (i != reservedIndex && (best < 0 || probs[i] > probs[best])) {
                best = i;
            }
        }
        return best;
    }

    /** The labels that are classes (all but the reserved output). */
    public List<String> classLabels(List<String> labels) {
        List<String> out = new ArrayList<>(labels);
        if (reservedIndex >= 0) {
            out.remove(reservedIndex);
        }
        return out;
    }

    /**
     * The report's open-set figures for one known set against one unknown set (point values;
     * AUROC as the Mann-Whitney statistic with ties counted half, as scikit-learn computes it).
     */
    public JSONObject figures(int[] knownIds, List<float[]> known, List<float[]> unknown) throws JSONException {
        float[] ks = new float[known.size()];
        boolean[] correct = new boolean[known.size()];
        int accepted = 0;
        int hits = 0;
        for (int i = 0; i < ks.length; i++) {
            Decision plain = new OpenSet(null, 1.0, reservedIndex).decide(known.get(i));
            Decision d = decide(known.get(i));
            ks[i] = plain.score;
            correct[i] = plain.index == knownIds[i];
            if (!d.rejected()) {
                accepted++;
                if (d.index == knownIds[i]) {
                    hits++;
                }
            }
        }
        float[] us = new float[unknown.size()];
        int uAccepted = 0;
        int high = 0;
        for (int i = 0; i < us.length; i++) {
            Decision d = decide(unknown.get(i));
            us[i] = d.score;
            if (!d.rejected()) {
                uAccepted++;
            }
            if (d.score >= 0.9f) {
                high++;
            }
        }
        int n = ks.length;
        int nu = us.length;
        boolean hasRule = scoreThreshold != null || reservedIndex >= 0;
        JSONObject knownJson = new JSONObject().put("ece", ece(ks, correct, 15));
        if (hasRule) {
            double[] ciH = Metrics.wilson(hits, n);
            double[] ciS = Metrics.wilson(hits, accepted);
            knownJson.put("at_threshold", new JSONObject()
                    .put("accepted", share(accepted, n))
                    .put("accuracy", n == 0 ? 0.0 : (double) hits / n)
                    .put("accuracy_ci95", new JSONArray().put(ciH[0]).put(ciH[1]))
                    .put("selective_accuracy", accepted == 0 ? 0.0 : (double) hits / accepted)
                    .put("selective_accuracy_ci95", new JSONArray().put(ciS[0]).put(ciS[1])));
        }
        JSONObject unknownJson = new JSONObject().put("n", nu)
                .put("share_score_ge_0.9", nu == 0 ? 0.0 : (double) high / nu)
                .put("accepted", hasRule ? share(uAccepted, nu) : JSONObject.NULL);
        JSONObject out = new JSONObject().put("known", knownJson).put("unknown", unknownJson);
        if (n > 0 && nu > 0) {
            out.put("auroc", auroc(ks, us)).put("fpr_at_95_tpr", fprAtTpr(ks, us, 0.95));
        }
        return out;
    }

    private static JSONObject share(int k, int n) throws JSONException {
        double[] ci = Metrics.wilson(k, n);
        return new JSONObject().put("n", n).put("accepted", k).put("share", n == 0 ? 0.0 : (double) k / n)
                .put("ci95", new JSONArray().put(ci[0]).put(ci[1]));
    }

    /** Probability that a known image scores above an unknown one (ties count half). */
    static double auroc(float[] pos, float[] neg) {
        double wins = 0;
        for (float p : pos) {
            for (float q : neg) {
                wins += p > q ? 1.0 : (p == q ? 0.5 : 0.0);
            }
        }
        return wins / ((double) pos.length * neg.length);
    }

    /** Share of unknowns at or above the threshold that keeps {@code tpr} of the known images. */
    static double fprAtTpr(float[] pos, float[] neg, double tpr) {
        float[] s = pos.clone();
        Arrays.sort(s);
        int k = Math.max(1, (int) Math.ceil(tpr * s.length - 1e-9));
        float t = s[s.length - k];
        int n = 0;
        for (float q : neg) {
            if (q >= t) {
                n++;
            }
        }
        return neg.length == 0 ? 0.0 : (double) n / neg.length;
    }

    /** Expected calibration error over equal-width confidence bins (bin b holds (lo, hi]; 0 in the first). */
    static double ece(float[] confidence, boolean[] correct, int bins) {
        double[] acc = new double[bins];
        double[] conf = new double[bins];
        int[] count = new int[bins];
        for (int i = 0; i < confidence.length; i++) {
            double c = confidence[i];
            int b = 0;
            while (b < bins - 1 && c > (double) (b + 1) / bins) {
                b++;
            }
            count[b]++;
            acc[b] += correct[i] ? 1 : 0;
            conf[b] += c;
        }
        double e = 0;
        int n = Math.max(1, confidence.length);
        for (int b = 0; b < bins; b++) {
            if (count[b] > 0) {
                e += (double) count[b] / n * Math.abs(acc[b] / count[b] - conf[b] / count[b]);
            }
        }
        return e;
    }
}
