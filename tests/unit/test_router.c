/* test_router.c - the dev, dynamic and null routers' decisions. Workloads
 * are opaque to the router, so distinct addresses stand in for them. */
#include <string.h>

#include "kumo/router.h"
#include "unit.h"

static char wa, wb, wc;
#define WA ((kumo_whttp_workload *)&wa)
#define WB ((kumo_whttp_workload *)&wb)
#define WC ((kumo_whttp_workload *)&wc)

KT_TEST(router_host_names)
{
    KT_CHECK(kumo_router_valid_host("example.com", 11));
    KT_CHECK(kumo_router_valid_host("a", 1));
    KT_CHECK(kumo_router_valid_host("my-svc.ns.svc", 13));
    KT_CHECK(kumo_router_valid_host("1host", 5));
    KT_CHECK(!kumo_router_valid_host("", 0));
    KT_CHECK(!kumo_router_valid_host("-a.com", 6));
    KT_CHECK(!kumo_router_valid_host("a-.com", 6));
    KT_CHECK(!kumo_router_valid_host("a..com", 6));
    KT_CHECK(!kumo_router_valid_host(".a", 2));
    KT_CHECK(!kumo_router_valid_host("a.", 2));
    KT_CHECK(!kumo_router_valid_host("a_b", 3));
    KT_CHECK(!kumo_router_valid_host("a:80", 4));
    KT_CHECK(!kumo_router_valid_host("*.a", 3));
    char label[80];
    memset(label, 'x', sizeof label);
    KT_CHECK(kumo_router_valid_host(label, 63));
    KT_CHECK(!kumo_router_valid_host(label, 64));
    char longname[300];
    for (size_t i = 0; i < sizeof longname; i++)
        longname[i] = i % 2 ? '.' : 'a';
    KT_CHECK(kumo_router_valid_host(longname, 253));
    KT_CHECK(!kumo_router_valid_host(longname, 255));
}

KT_TEST(router_kind_names)
{
    KT_CHECK(kumo_router_kind_parse("dev") == KUMO_ROUTER_DEV);
    KT_CHECK(kumo_router_kind_parse("dynamic") == KUMO_ROUTER_DYNAMIC);
    KT_CHECK(kumo_router_kind_parse("null") == KUMO_ROUTER_NULL);
    KT_CHECK(kumo_router_kind_parse("Dev") == -1);
    KT_CHECK(strcmp(kumo_router_kind_name(KUMO_ROUTER_DYNAMIC), "dynamic") ==
             0);
}

KT_TEST(router_dev_most_recent)
{
    kumo_router *r;
    kumo_whttp_workload *w;
    KT_REQUIRE(kumo_router_new(KUMO_ROUTER_DEV, &r) == 0);
    KT_CHECK(kumo_router_route(r, "x", &w) == KUMO_ROUTE_NO_WORKLOAD);
    KT_CHECK(kumo_router_add(r, "a", WA, NULL, NULL, NULL) == 0);
    KT_CHECK(kumo_router_add(r, "b", WB, "ignored_name!", NULL, NULL) == 0);
    KT_CHECK(kumo_router_add(r, "b", WC, NULL, NULL, NULL) == KUMO_EINVAL);
    KT_CHECK(kumo_router_route(r, NULL, &w) == KUMO_ROUTE_OK && w == WB);
    KT_CHECK(kumo_router_route(r, "any.host:1", &w) == KUMO_ROUTE_OK &&
             w == WB);
    KT_CHECK(kumo_router_set_available(r, "b", false) == 0);
    KT_CHECK(kumo_router_route(r, "", &w) == KUMO_ROUTE_OK && w == WA);
    KT_CHECK(kumo_router_set_available(r, "a", false) == 0);
    KT_CHECK(kumo_router_route(r, "", &w) == KUMO_ROUTE_UNAVAILABLE);
    KT_CHECK(kumo_router_remove(r, "b") == 0);
    KT_CHECK(kumo_router_remove(r, "b") == KUMO_ENOTFOUND);
    KT_CHECK(kumo_router_set_available(r, "a", true) == 0);
    KT_CHECK(kumo_router_route(r, "", &w) == KUMO_ROUTE_OK && w == WA);
    KT_CHECK(kumo_router_remove(r, "a") == 0);
    KT_CHECK(kumo_router_route(r, "", &w) == KUMO_ROUTE_NO_WORKLOAD);
    KT_CHECK(kumo_router_egress_allowed(r));
    kumo_router_free(r);
}

KT_TEST(router_dynamic_hosts)
{
    kumo_router *r;
    kumo_whttp_workload *w;
    const char *why;
    KT_REQUIRE(kumo_router_new(KUMO_ROUTER_DYNAMIC, &r) == 0);
    KT_CHECK(kumo_router_add(r, "a", WA, NULL, NULL, &why) == KUMO_EINVAL &&
             why);
    KT_CHECK(kumo_router_add(r, "a", WA, "bad_name", NULL, &why) ==
                 KUMO_EINVAL &&
             why);
    KT_CHECK(kumo_router_add(r, "a", WA, "a.example:80", NULL, &why) ==
                 KUMO_EINVAL &&
             strstr(why, "port"));
    KT_CHECK(kumo_router_add(r, "a", WA, "a.example", "x..y", &why) ==
             KUMO_EINVAL);
    KT_CHECK(kumo_router_add(r, "a", WA, "A.Example",
                             " svc.ns , svc.ns.svc,", &why) == 0);
    KT_CHECK(kumo_router_add(r, "b", WB, "b.example", NULL, &why) == 0);
    KT_CHECK(kumo_router_route(r, NULL, &w) == KUMO_ROUTE_MISSING_HOST);
    KT_CHECK(kumo_router_route(r, "", &w) == KUMO_ROUTE_MISSING_HOST);
    KT_CHECK(kumo_router_route(r, ":8080", &w) == KUMO_ROUTE_MISSING_HOST);
    KT_CHECK(kumo_router_route(r, "a.example", &w) == KUMO_ROUTE_OK &&
             w == WA);
    KT_CHECK(kumo_router_route(r, "a.EXAMPLE:8000", &w) == KUMO_ROUTE_OK &&
             w == WA);
    KT_CHECK(kumo_router_route(r, "a.example.", &w) == KUMO_ROUTE_OK &&
             w == WA);
    KT_CHECK(kumo_router_route(r, "svc.ns", &w) == KUMO_ROUTE_OK && w == WA);
    KT_CHECK(kumo_router_route(r, "svc.ns.svc:80", &w) == KUMO_ROUTE_OK &&
             w == WA);
    KT_CHECK(kumo_router_route(r, "b.example", &w) == KUMO_ROUTE_OK &&
             w == WB);
    KT_CHECK(kumo_router_route(r, "c.example", &w) == KUMO_ROUTE_NO_WORKLOAD);
    KT_CHECK(kumo_router_route(r, "example", &w) == KUMO_ROUTE_NO_WORKLOAD);
    KT_CHECK(kumo_router_route(r, "[::1]:8000", &w) ==
             KUMO_ROUTE_NO_WORKLOAD);
    KT_CHECK(kumo_router_set_available(r, "b", false) == 0);
    KT_CHECK(kumo_router_route(r, "b.example", &w) == KUMO_ROUTE_UNAVAILABLE);
    KT_CHECK(kumo_router_remove(r, "b") == 0);
    KT_CHECK(kumo_router_route(r, "b.example", &w) == KUMO_ROUTE_NO_WORKLOAD);
    kumo_router_free(r);
}

KT_TEST(router_dynamic_replicas_random)
{
    kumo_router *r;
    kumo_whttp_workload *w;
    int counts[3] = {0, 0, 0};
    KT_REQUIRE(kumo_router_new(KUMO_ROUTER_DYNAMIC, &r) == 0);
    KT_CHECK(kumo_router_add(r, "1", WA, "app.local", NULL, NULL) == 0);
    KT_CHECK(kumo_router_add(r, "2", WB, "app.local", NULL, NULL) == 0);
    KT_CHECK(kumo_router_add(r, "3", WC, "other.local", "app.local", NULL) ==
             0);
    for (int i = 0; i < 3000; i++) {
        KT_REQUIRE(kumo_router_route(r, "app.local", &w) == KUMO_ROUTE_OK);
        counts[w == WA ? 0 : w == WB ? 1 : 2]++;
    }
    /* uniform: each near 1000; far outside chance if the pick is biased */
    for (int i = 0; i < 3; i++)
        KT_CHECK(counts[i] > 800 && counts[i] < 1200);
    KT_CHECK(kumo_router_set_available(r, "1", false) == 0);
    KT_CHECK(kumo_router_set_available(r, "3", false) == 0);
    for (int i = 0; i < 50; i++)
        KT_CHECK(kumo_router_route(r, "app.local", &w) == KUMO_ROUTE_OK &&
                 w == WB);
    kumo_router_free(r);
}

KT_TEST(router_null)
{
    kumo_router *r;
    kumo_whttp_workload *w;
    const char *why;
    KT_REQUIRE(kumo_router_new(KUMO_ROUTER_NULL, &r) == 0);
    KT_CHECK(kumo_router_add(r, "a", WA, "a.example", NULL, &why) ==
             KUMO_EINVAL);
    KT_CHECK(kumo_router_route(r, "a.example", &w) ==
             KUMO_ROUTE_NO_WORKLOAD);
    KT_CHECK(!kumo_router_egress_allowed(r));
    kumo_router_free(r);
}
