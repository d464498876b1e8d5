package dev.forge.runtime;

import dev.forge.runtime.ModelValidator.GraphInfo;
import dev.forge.runtime.ModelValidator.IntList;
import dev.forge.runtime.ModelValidator.NameTable;
import dev.forge.runtime.ModelValidator.Scope;
import dev.forge.runtime.ModelValidator.Walk;
import dev.forge.runtime.WireReader.Problem;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The validator's graph checks, on graphs {@link ModelValidator} has read: names unique, every input
 * defined in the graph or an enclosing one (subgraph reads count as edges of their node), no cycle,
 * every output defined, every node's domain imported; then the allocation bounds ({@link SizeBounds}).
 */
final class GraphChecks {
    private final Walk w;

    GraphChecks(Walk w) {
        this.w = w;
    }

    /**
     * Checks one graph: unique definitions, every input defined here or in an enclosing graph, no
     * cycle, every output defined, known domains, and sizes fixed by constants. Returns the names it
     * takes from enclosing graphs.
     */
    NameTable check(
            GraphInfo g,
            Scope outer,
            Map<String, Long> opsets,
            Map<String, Boolean> functionDomains,
            boolean amplification)
            throws Problem {
        NameTable free = new NameTable(w);
        if (!g.structural) {
            for (List<GraphInfo> subs : g.subgraphs.values()) {
                for (GraphInfo s : subs) {
                    check(s, null, opsets, functionDomains, false);
                }
            }
            return free;
        }
        NameTable defined = new NameTable(w);
        for (int i = 0; i < g.inputs.size(); i++) {
            int in = g.inputs.get(i);
            if (w.isEmpty(in)) {
                throw w.malformed("graph input #" + i + " has no name");
            }
            if (defined.index(in) >= 0) {
                throw w.malformed("graph input " + w.show(in) + " is declared twice");
            }
            defined.add(in);
        }
        NameTable initializers = g.initializerNames;
        for (int i = 0; i < g.initializers.size(); i++) {
            int in = g.initializers.get(i);
            if (!g.isFunction && w.isEmpty(in)) {
                throw w.malformed("initializer #" + i + " has no name");
            }
            defined.add(in);
        }
        int n = g.nodeCount();
        NameTable produced = new NameTable(w);
        IntList producer = new IntList();
        for (int k = 0; k < n; k++) {
            int op = g.nodeOp.get(k);
            int domain = g.nodeDomain.get(k);
            String d = Walk.domainKey(w.text(domain));
            if (!opsets.containsKey(d) && !functionDomains.containsKey(d)) {
                throw w.malformed("node " + w.label(g, k) + " uses domain '" + d
                        + "', which the model does not import (opset_import: " + opsets.keySet() + ")");
            }
            int outStart = g.inStart.get(k) + g.inCount.get(k);
            for (int j = 0; j < g.outCount.get(k); j++) {
                int out = g.edges.get(outStart + j);
                if (w.isEmpty(out)) {
                    continue;
                }
                int prev = produced.index(out);
                if (prev >= 0) {
                    throw w.malformed("value " + w.show(out) + " is produced by two nodes, "
                            + w.label(g, producer.get(prev)) + " and " + w.label(g, k));
                }
                if (defined.index(out) >= 0) {
                    throw w.malformed("node " + w.label(g, k) + " produces " + w.show(out)
                            + ", which is already a graph input or initializer");
                }
                produced.add(out);
                producer.add(k);
            }
        }
        Scope here = new Scope(defined, produced, outer);
        // edges producer -> consumer, and the names this graph takes from enclosing graphs
        IntList from = new IntList();
        IntList to = new IntList();
        for (int k = 0; k < n; k++) {
            int start = g.inStart.get(k);
            for (int j = 0; j < g.inCount.get(k); j++) {
                int in = g.edges.get(start + j);
                if (w.isEmpty(in)) {
                    continue;
                }
                resolve(g, k, in, defined, produced, producer, outer, free, from, to, false);
            }
            List<GraphInfo> subs = g.subgraphs.get(k);
            if (subs != null) {
                for (int s = 0; s < subs.size(); s++) {
                    w.enter("node " + w.label(g, k) + " subgraph", s);
                    NameTable subFree = check(subs.get(s), here, opsets, functionDomains, amplification);
                    w.leave();
                    for (int h = 0; h < subFree.size(); h++) {
                        resolve(g, k, subFree.handle(h), defined, produced, producer, outer, free, from, to, true);
                    }
                }
            }
        }
        int[] order = topologicalOrder(g, n, from, to);
        for (int i = 0; i < g.outputs.size(); i++) {
            int out = g.outputs.get(i);
            if (w.isEmpty(out)) {
                throw w.malformed("graph output #" + i + " has no name");
            }
            if (defined.index(out) < 0 && produced.index(out) < 0) {
                if (outer != null && outer.contains(out)) {
                    free.add(out);
                } else {
                    throw w.malformed("graph output " + w.show(out)
                            + " is not produced by any node, nor a graph input or initializer");
                }
            }
        }
        if (amplification && !g.isFunction) {
            new SizeBounds(w).check(g, order);
        }
        return free;
    }

    void resolve(
            GraphInfo g,
            int k,
            int in,
            NameTable defined,
            NameTable produced,
            IntList producer,
            Scope outer,
            NameTable free,
            IntList from,
            IntList to,
            boolean implicit)
            throws Problem {
        int p = produced.index(in);
        if (p >= 0) {
            from.add(producer.get(p));
            to.add(k);
        } else if (defined.index(in) < 0) {
            if (outer != null && outer.contains(in)) {
                free.add(in);
            } else {
                throw w.malformed(
                        "node " + w.label(g, k) + (implicit ? " has a subgraph that reads " : " reads ") + w.show(in)
                                + ", which is not a graph input, an initializer, any node's output or a value of an enclosing graph");
            }
        }
    }

    int[] topologicalOrder(GraphInfo g, int n, IntList from, IntList to) throws Problem {
        int[] indegree = new int[n];
        int[] firstOut = new int[n + 1];
        for (int e = 0; e < from.size(); e++) {
            indegree[to.get(e)]++;
            firstOut[from.get(e) + 1]++;
        }
        for (int k = 0; k < n; k++) {
            firstOut[k + 1] += firstOut[k];
        }
        int[] fill = Arrays.copyOf(firstOut, n);
        int[] succ = new int[from.size()];
        for (int e = 0; e < from.size(); e++) {
            succ[fill[from.get(e)]++] = to.get(e);
        }
        int[] order = new int[n];
        int head = 0;
        int tail = 0;
        for (int k = 0; k < n; k++) {
            if (indegree[k] == 0) {
                order[tail++] = k;
            }
        }
        while (head < tail) {
            int k = order[head++];
            for (int e = firstOut[k]; e < firstOut[k + 1]; e++) {
                if (--indegree[succ[e]] == 0) {
                    order[tail++] = succ[e];
                }
            }
        }
        if (tail < n) {
            List<String> stuck = new ArrayList<>();
            for (int k = 0; k < n && stuck.size() < 5; k++) {
                if (indegree[k] > 0) {
                    stuck.add(w.label(g, k));
                }
            }
            throw w.malformed("the graph has a cycle through " + (n - tail) + " node" + (n - tail == 1 ? "" : "s")
                    + ", among them " + stuck);
        }
        return order;
    }
}
