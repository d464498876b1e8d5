package dev.forge.cli;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.train.ExportOptions;
import dev.forge.compiler.train.ParameterPattern;
import dev.forge.compiler.train.Schedule;
import dev.forge.compiler.train.Training;
import dev.forge.compiler.train.Transfer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * The fine-tuning flags of {@code forge train}: freezing ({@code --freeze}), a new classifier
 * ({@code --num-classes}, {@code --new-head}, {@code --class-names}), discriminative learning rates
 * ({@code --backbone-lr}, {@code --lr-for}) and warm-up ({@code --warmup}). Each flag maps to one library
 * call ({@link Training#freeze}, {@link Transfer#replaceHead}, {@link Training#learningRate},
 * {@link Schedule#warmupCosine}); {@code docs/TRANSFER.md} shows them together.
 */
final class TransferOptions {
    /** The {@code --freeze} keyword for everything before the classifier ({@link Transfer#backbone}). */
    static final String BACKBONE = "backbone";

    @Option(
            names = "--freeze",
            paramLabel = "PATTERN",
            converter = PatternConverter.class,
            description = "Freeze parameters (repeatable): a name (conv1/W), a glob (features.*, conv?/W), re:REGEX,"
                    + " upto:NODE (everything NODE depends on, NODE included), or '" + BACKBONE
                    + "' (everything before the classifier). Frozen BatchNorm layers run in inference mode.")
    List<String> freeze = new ArrayList<>();

    @Option(
            names = "--num-classes",
            paramLabel = "N",
            converter = TrainArguments.AtLeastOne.class,
            description = "Replace the classifier with a freshly initialized one of N outputs.")
    Integer numClasses;

    @Option(
            names = "--new-head",
            description = "Replace the classifier with a fresh one for the classes of --class-names or of the"
                    + " training folder (--data folder:DIR).")
    boolean newHead;

    @Option(
            names = "--class-names",
            paramLabel = "A,B,...",
            split = ",",
            description = "Class names stored in the exported model (default: the data set's).")
    List<String> classNames;

    @Option(
            names = "--backbone-lr",
            paramLabel = "X",
            converter = Factor.class,
            description = "Learning-rate factor of everything before the classifier (e.g. 0.1).")
    Double backboneLr;

    @Option(
            names = "--lr-for",
            paramLabel = "PATTERN=X",
            converter = LrRule.class,
            description =
                    "Learning-rate factor X for the parameters PATTERN selects (repeatable; the last match" + " wins).")
    List<LrFor> lrFor = new ArrayList<>();

    /** One {@code --lr-for PATTERN=X}. */
    record LrFor(String pattern, double factor) {}

    @Option(
            names = "--warmup",
            paramLabel = "STEPS|Ne",
            converter = Warmup.class,
            description = "Linear warm-up over STEPS steps (or N epochs: 2e), then cosine decay to 0 at the last"
                    + " step; replaces --schedule.")
    String warmup;

    /**
     * Replaces the classifier when {@code --num-classes} or {@code --new-head} asks for it.
     *
     * @param data the {@code --data} spec, whose folder's classes {@code --new-head} counts when neither
     *     {@code --num-classes} nor {@code --class-names} says how many
     */
    Graph newHead(Graph forward, String data, long seed) {
        Integer n = numClasses;
        if (n == null && newHead) {
            n = classNames != null ? classNames.size() : folderClasses(data);
        }
        if (numClasses != null && classNames != null && classNames.size() != numClasses) {
            throw new IllegalArgumentException("--class-names gives " + classNames.size() + " names for --num-classes "
                    + numClasses + "; give one name per class");
        }
        return n == null ? forward : Transfer.replaceHead(forward, n, seed);
    }

    /** The number of class folders under {@code DIR/train} of a {@code folder:DIR} spec. */
    private static int folderClasses(String data) {
        if (data == null || !data.startsWith("folder:")) {
            throw new IllegalArgumentException(
                    "--new-head needs the number of classes: give --num-classes N, --class-names A,B,... or"
                            + " --data folder:DIR");
        }
        Path train = Path.of(data.substring("folder:".length())).resolve("train");
        try (Stream<Path> dirs = Files.list(train)) {
            long n = dirs.filter(Files::isDirectory)
                    .filter(d -> !d.getFileName().toString().startsWith("."))
                    .count();
            if (n == 0) {
                throw new IllegalArgumentException(train + " has no class sub-folders for --new-head");
            }
            return Math.toIntExact(n);
        } catch (IOException e) {
            throw new UncheckedIOException("--new-head: cannot list the classes of " + train, e);
        }
    }

    /**
     * Applies freezing, learning-rate factors and warm-up to a run of {@code forward}.
     *
     * @param stepsPerEpoch optimizer steps per epoch, to turn {@code --warmup Ne} into steps
     */
    void configure(Training run, Graph forward, long stepsPerEpoch) {
        for (String p : freeze) {
            run.freeze(p.equals(BACKBONE) ? Transfer.backbone(forward) : p);
        }
        if (backboneLr != null) {
            run.learningRate(Transfer.backbone(forward), backboneLr);
        }
        for (LrFor rule : lrFor) {
            run.learningRate(rule.pattern(), rule.factor());
        }
        if (warmup != null) {
            long steps = warmup.endsWith("e")
                    ? Long.parseLong(warmup.substring(0, warmup.length() - 1)) * stepsPerEpoch
                    : Long.parseLong(warmup);
            run.schedule(Schedule.warmupCosine(steps));
        }
    }

    /** Stores {@code --class-names} in the exported metadata. */
    void export(ExportOptions.Builder export) {
        if (classNames != null) {
            export.classLabels(classNames);
        }
    }

    /** {@code --freeze}: a valid {@link ParameterPattern} or {@code backbone}. */
    static final class PatternConverter implements ITypeConverter<String> {
        @Override
        public String convert(String text) {
            if (!text.equals(BACKBONE)) {
                try {
                    ParameterPattern.of(text);
                } catch (IllegalArgumentException e) {
                    throw new TypeConversionException(e.getMessage());
                }
            }
            return text;
        }
    }

    /** A finite learning-rate factor of at least 0. */
    static final class Factor implements ITypeConverter<Double> {
        @Override
        public Double convert(String text) {
            return factor(text, text);
        }
    }

    static double factor(String text, String whole) {
        try {
            double f = Double.parseDouble(text.trim());
            if (f >= 0 && !Double.isInfinite(f)) {
                return f;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new TypeConversionException(
                "'" + whole + "': the learning-rate factor must be a finite number >= 0, got '" + text + "'");
    }

    /** {@code --lr-for PATTERN=X}. */
    static final class LrRule implements ITypeConverter<LrFor> {
        @Override
        public LrFor convert(String text) {
            int eq = text.lastIndexOf('=');
            if (eq <= 0) {
                throw new TypeConversionException("'" + text + "' is not PATTERN=FACTOR (e.g. features.*=0.1)");
            }
            String pattern = text.substring(0, eq);
            new PatternConverter().convert(pattern);
            return new LrFor(pattern, factor(text.substring(eq + 1), text));
        }
    }

    /** {@code --warmup STEPS} or {@code Ne} epochs. */
    static final class Warmup implements ITypeConverter<String> {
        @Override
        public String convert(String text) {
            String t = text.trim().toLowerCase(java.util.Locale.ROOT);
            try {
                long n = Long.parseLong(t.endsWith("e") ? t.substring(0, t.length() - 1) : t);
                if (n >= 0) {
                    return t;
                }
            } catch (NumberFormatException e) {
                // the message below
            }
            throw new TypeConversionException(
                    "'" + text + "' is not a warm-up length; give steps (500) or epochs (2e), at least 0");
        }
    }
}
