package dev.forge.compiler.train;

import dev.forge.compiler.ir.Graph;
import dev.forge.compiler.ir.Node;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Selects trainable parameters by name or by position in the graph, for freezing
 * ({@link Training#freeze(String...)}) and per-group learning rates ({@link Training#learningRate(String, double)}).
 * One spelling serves the library and the command line ({@code --freeze}, {@code --lr-for}):
 *
 * <ul>
 *   <li>{@code conv1/W}: exactly that parameter (a name without {@code *} or {@code ?});
 *   <li>{@code features.*}, {@code conv?/W}: a glob over the whole name, where {@code *} matches any run of
 *       characters ({@code /} and {@code .} included: parameter names are flat, so {@code features.*} takes
 *       {@code features.0.weight}) and {@code ?} one character;
 *   <li>{@code re:REGEX}: a Java regular expression that must match the whole name
 *       ({@code re:layer[12]\..*});
 *   <li>{@code upto:NODE}: every parameter node {@code NODE} depends on, its own weights included, found by
 *       walking the graph backwards from the node's inputs (the backbone "up to" that layer). {@code NODE}
 *       is a node name, or a value name whose producer is taken.
 * </ul>
 *
 * A pattern that selects no parameter is an error that lists some of the parameters (see {@link #select}).
 */
public final class ParameterPattern {
    /** Prefix of the regular-expression form. */
    public static final String REGEX = "re:";
    /** Prefix of the graph-reachability form. */
    public static final String UP_TO = "upto:";

    private final String text;

    private ParameterPattern(String text) {
        this.text = text;
    }

    /**
     * Parses a pattern; a malformed regular expression or an empty name is an error here, before any graph is
     * seen.
     *
     * @throws IllegalArgumentException for an empty pattern or a malformed {@code re:} expression
     */
    public static ParameterPattern of(String text) {
        Objects.requireNonNull(text, "pattern");
        if (text.isEmpty() || text.equals(REGEX) || text.equals(UP_TO)) {
            throw new IllegalArgumentException("parameter pattern '" + text
                    + "' is empty; give a name (conv1/W), a glob (features.*), re:REGEX or upto:NODE");
        }
        if (text.startsWith(REGEX)) {
            try {
                Pattern.compile(text.substring(REGEX.length()));
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("parameter pattern '" + text
                        + "' is not a valid regular expression: " + e.getDescription() + " near index " + e.getIndex());
            }
        }
        return new ParameterPattern(text);
    }

    /** The pattern as written. */
    @Override
    public String toString() {
        return text;
    }

    /**
     * The parameters of {@code g} (its {@link Graph#parameters()}) this pattern selects, in the graph's order.
     *
     * @param use what the pattern is for, as the message should name it: {@code freeze} or {@code learningRate}
     * @throws IllegalArgumentException when it selects none (the message lists some parameter names), or when
     *     an {@code upto:} node does not exist (the message lists some node names)
     */
    public List<String> select(Graph g, String use) {
        Set<String> params = g.parameters();
        List<String> hit;
        if (text.startsWith(UP_TO)) {
            Set<String> upstream = upstreamOf(g, text.substring(UP_TO.length()));
            hit = params.stream().filter(upstream::contains).toList();
        } else {
            Pattern p = text.startsWith(REGEX) ? Pattern.compile(text.substring(REGEX.length())) : glob(text);
            hit = params.stream().filter(n -> p.matcher(n).matches()).toList();
        }
        if (hit.isEmpty()) {
            throw new IllegalArgumentException(use + "(\"" + text + "\") matches no trainable parameter of '"
                    + g.name() + "'; its parameters are " + sample(params) + ". Patterns: a name, a glob"
                    + " (features.*, conv?/W), re:REGEX (whole name) or upto:NODE");
        }
        return hit;
    }

    /** Every value {@code nodeName}'s inputs depend on, found by walking producers backwards. */
    private static Set<String> upstreamOf(Graph g, String nodeName) {
        Node node = g.node(nodeName);
        if (node == null) {
            node = g.producer(nodeName);
        }
        if (node == null) {
            List<String> names = g.nodes().stream().map(Node::name).toList();
            throw new IllegalArgumentException("upto:" + nodeName + ": '" + g.name() + "' has no node or value named '"
                    + nodeName + "'; its nodes include " + sample(new LinkedHashSet<>(names))
                    + " (forge inspect MODEL lists them)");
        }
        Set<String> seen = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>(node.inputs());
        while (!todo.isEmpty()) {
            String v = todo.pop();
            if (v.isEmpty() || !seen.add(v)) {
                continue;
            }
            Node p = g.producer(v);
            if (p != null) {
                todo.addAll(p.inputs());
            }
        }
        return seen;
    }

    /** A glob over a whole name: {@code *} any run of characters, {@code ?} one; everything else literal. */
    private static Pattern glob(String glob) {
        StringBuilder re = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (char ch : glob.toCharArray()) {
            if (ch == '*' || ch == '?') {
                if (!literal.isEmpty()) {
                    re.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                re.append(ch == '*' ? ".*" : ".");
            } else {
                literal.append(ch);
            }
        }
        if (!literal.isEmpty()) {
            re.append(Pattern.quote(literal.toString()));
        }
        return Pattern.compile(re.toString(), Pattern.DOTALL);
    }

    /** The first few names and how many there are in all. */
    static String sample(Set<String> names) {
        List<String> list = List.copyOf(names);
        int shown = Math.min(8, list.size());
        String head = String.join(", ", list.subList(0, shown));
        return "[" + head + (list.size() > shown ? ", ... (" + list.size() + " in all)" : "") + "]";
    }
}
