package dev.forge.runtime;

import static dev.forge.runtime.HostileModelTest.model;
import static dev.forge.runtime.TestModels.FLOAT;
import static dev.forge.runtime.TestModels.floatInitializer;
import static dev.forge.runtime.TestModels.node;
import static dev.forge.runtime.TestModels.valueInfo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.forge.runtime.TestModels.Msg;
import java.lang.reflect.Field;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The validator's name tables ({@code ModelValidator.NameTable}) resist crafted collisions: names are
 * hashed with a polynomial modulo 2^61 - 1 whose base is drawn at random once per JVM, so a model cannot
 * be built to put every name in one slot and make the lookups quadratic. Measured by the operation count
 * the validator reports (slots examined per lookup), never by time.
 */
class NameHashingTest {
    /** All 2^k names made of k blocks "Aa" or "BB": one String.hashCode and one Arrays.hashCode for all. */
    static List<String> collidingNames(int k) {
        List<String> names = new ArrayList<>();
        for (int bits = 0; bits < 1 << k; bits++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < k; i++) {
                sb.append((bits >>> i & 1) == 0 ? "Aa" : "BB");
            }
            names.add(sb.toString());
        }
        return names;
    }

    @Test
    void names_colliding_in_java_hash_codes_keep_the_name_tables_linear() {
        List<String> names = collidingNames(13);
        assertEquals(8192, names.size());
        assertEquals(1, names.stream().map(String::hashCode).distinct().count());
        assertEquals(
                1,
                names.stream()
                        .map(n -> Arrays.hashCode(n.getBytes(StandardCharsets.US_ASCII)))
                        .distinct()
                        .count());
        // a chain of Identity nodes whose values carry the colliding names (node outputs, node inputs, the size
        // inference's table) and as many initializers named with them
        Msg g = new Msg();
        String previous = "x";
        for (String n : names) {
            g.msg(1, node("Identity", "", List.of(previous), List.of(n)));
            previous = n;
        }
        g.msg(1, node("Identity", "", List.of(previous), List.of("y")));
        for (String n : names) {
            g.msg(5, floatInitializer("w" + n, new float[] {1}, 1));
        }
        g.msg(11, valueInfo("x", FLOAT, "N", 4L)).msg(12, valueInfo("y", FLOAT, "N", 4L));
        ModelValidator.Summary s = ModelValidator.inspect(model(g), "collisions", null, ModelLimits.defaults());
        assertTrue(s.nameLookups >= 5L * names.size(), "lookups: " + s.nameLookups);
        // linear probing at a load factor of at most 1/2 examines about 1.5 to 2.5 slots per operation; names that
        // all fell into one slot would examine about n/2 (here thousands)
        double perLookup = (double) s.nameProbes / s.nameLookups;
        assertTrue(perLookup < 4, s.nameProbes + " slots examined for " + s.nameLookups + " lookups: " + perLookup);
    }

    @Test
    void the_hash_base_is_drawn_at_random_for_each_jvm() throws Exception {
        // each fresh class loader initializes the table's class again, as a new JVM would
        URL classes = ModelValidator.class.getProtectionDomain().getCodeSource().getLocation();
        Set<Long> bases = new HashSet<>();
        bases.add(hashBase(ModelValidator.NameTable.class));
        for (int i = 0; i < 3; i++) {
            try (URLClassLoader fresh = new URLClassLoader(new URL[] {classes}, ClassLoader.getPlatformClassLoader())) {
                Class<?> table = Class.forName(ModelValidator.NameTable.class.getName(), true, fresh);
                assertTrue(table != ModelValidator.NameTable.class, "a fresh copy of the class");
                bases.add(hashBase(table));
            }
        }
        assertEquals(4, bases.size(), "four initializations, four bases: " + bases);
        for (long b : bases) {
            assertTrue(b >= 256 && b < (1L << 61) - 1, "a base above every byte value, below the modulus: " + b);
        }
    }

    static long hashBase(Class<?> table) throws ReflectiveOperationException {
        Field f = table.getDeclaredField("HASH_BASE");
        f.setAccessible(true);
        return f.getLong(null);
    }
}
