package dev.forge.cli;

import dev.forge.compiler.data.Datasets;
import java.util.Set;

/**
 * The command line's spelling of a data set, {@code --data}: the spec {@link Datasets#open} reads ({@code
 * mnist}, {@code fashion-mnist[:DIR]}, {@code cifar10:DIR}, {@code folder:DIR}, {@code random}). Loading
 * lives in the library; this names the kinds for the converter, completion and help.
 */
final class DataSpec {
    /** The kinds of data set, the part before any ':'. */
    static final Set<String> KINDS = Datasets.KINDS;

    static final String HELP = Datasets.FORMS;

    private DataSpec() {}
}
