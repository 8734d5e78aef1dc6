/*
 * brand.c - (category, brand) counters and the brand-loyalty classes.
 *
 * Both lists are bounded: a new (category, brand) pair evicts the least
 * bought pair (the oldest on a tie), a new category the category with the
 * fewest items.  Shares are therefore exact while a customer buys at most
 * CU_BRAND_MAX pairs, and approximate (recent brands favoured) beyond.
 */
#include "state/model/brand.h"

#include <string.h>

static void copy_name(char *dst, const char *src)
{
    strncpy(dst, src, CU_NAME_MAX);
    dst[CU_NAME_MAX] = '\0';
}

static struct cu_cat *cat_get(struct customer *c, const char *name)
{
    uint32_t victim = 0;

    for (uint32_t i = 0; i < c->ncats; i++) {
        if (strcmp(c->cats[i].name, name) == 0) {
            return &c->cats[i];
        }
        if (c->cats[i].items < c->cats[victim].items) {
            victim = i;
        }
    }
    if (c->ncats < CU_CAT_MAX) {
        victim = c->ncats++;
    }
    memset(&c->cats[victim], 0, sizeof(c->cats[victim]));
    copy_name(c->cats[victim].name, name);
    return &c->cats[victim];
}

static struct cu_brand *brand_get(struct customer *c, uint32_t cat, const char *name)
{
    uint32_t victim = 0;

    for (uint32_t i = 0; i < c->nbrands; i++) {
        const struct cu_brand *b = &c->brands[i];
        const struct cu_brand *v = &c->brands[victim];
        if (b->cat == cat && strcmp(b->name, name) == 0) {
            return &c->brands[i];
        }
        if (b->count < v->count || (b->count == v->count && b->last_day < v->last_day)) {
            victim = i;
        }
    }
    if (c->nbrands < CU_BRAND_MAX) {
        victim = c->nbrands++;
    }
    memset(&c->brands[victim], 0, sizeof(c->brands[victim]));
    c->brands[victim].cat = cat;
    copy_name(c->brands[victim].name, name);
    return &c->brands[victim];
}

/* One purchase of `brand` in `category`: the category's count only when
 * count_cat (its first line in the order), the brand's always. */
static void add_purchase(struct customer *c, const char *category, const char *brand,
                         int32_t day, int count_cat)
{
    const char *cname = category[0] ? category : "-";
    struct cu_cat *k = cat_get(c, cname);
    struct cu_brand *b;

    k->items += count_cat != 0;
    if (!brand[0]) {
        return;
    }
    b = brand_get(c, cu_hash32(k->name), brand);
    b->count++;
    if (day > b->last_day) {
        b->last_day = day;
    }
    if (k->nseq == CU_SEQ_MAX) {
        memmove(&k->seq[0], &k->seq[1], (CU_SEQ_MAX - 1) * sizeof(k->seq[0]));
        k->nseq--;
    }
    k->seq[k->nseq++] = cu_hash32(b->name);
}

static int same_category(const struct ev_item *a, const struct ev_item *b)
{
    return strcmp(a->category, b->category) == 0;
}

void brand_add_order(struct customer *c, const struct ev_item *items, size_t n,
                     int32_t day)
{
    for (size_t i = 0; i < n; i++) {
        int new_cat = 1, new_pair = items[i].brand[0] != '\0';

        for (size_t j = 0; j < i; j++) {
            if (same_category(&items[j], &items[i])) {
                new_cat = 0;
                new_pair = new_pair && strcmp(items[j].brand, items[i].brand) != 0;
            }
        }
        if (new_cat || new_pair) {
            add_purchase(c, items[i].category, new_pair ? items[i].brand : "", day,
                         new_cat);
        }
    }
}

/* The three largest counters of the category, descending. */
static void top3(const struct customer *c, uint32_t cat, const struct cu_brand *top[3],
                 struct brand_view *v)
{
    top[0] = top[1] = top[2] = NULL;
    for (uint32_t i = 0; i < c->nbrands; i++) {
        const struct cu_brand *b = &c->brands[i];
        if (b->cat != cat) {
            continue;
        }
        v->purchases += b->count;
        v->nbrands++;
        for (int k = 0; k < 3; k++) {
            if (!top[k] || b->count > top[k]->count) {
                for (int j = 2; j > k; j--) {
                    top[j] = top[j - 1];
                }
                top[k] = b;
                break;
            }
        }
    }
}

static const char *brand_name(const struct customer *c, uint32_t cat, uint32_t h)
{
    for (uint32_t i = 0; i < c->nbrands; i++) {
        if (c->brands[i].cat == cat && cu_hash32(c->brands[i].name) == h) {
            return c->brands[i].name;
        }
    }
    return "?";
}

/* Switching: the last three purchases are one brand, and the brand most
 * bought before them in the sequence is another. */
static int switched(const struct cu_cat *k)
{
    uint32_t n = k->nseq, best = 0, bestn = 0;
    uint32_t last = n ? k->seq[n - 1] : 0;

    if (n < 4 || k->seq[n - 2] != last || k->seq[n - 3] != last) {
        return 0;
    }
    for (uint32_t i = 0; i < n - 3; i++) {
        uint32_t cnt = 0;
        for (uint32_t j = 0; j < n - 3; j++) {
            cnt += k->seq[j] == k->seq[i];
        }
        if (cnt > bestn) {
            best = k->seq[i];
            bestn = cnt;
        }
    }
    return best != last;
}

static enum brand_type classify(const struct cu_cat *k, const struct model_config *cfg,
                                const struct brand_view *v, const struct cu_brand *top[3])
{
    if (v->purchases < (uint32_t)cfg->brand_min_purchases) {
        return BT_UNDETERMINED;
    }
    if (v->nbrands == 1) {
        return BT_COMPLETE;
    }
    if (switched(k)) {
        return BT_SWITCHING;
    }
    if (v->share >= cfg->brand_occasional_share) {
        return BT_OCCASIONAL;
    }
    double second = (double)top[1]->count / v->purchases;
    double third = top[2] ? (double)top[2]->count / v->purchases : 0;
    if (second >= cfg->brand_split_min &&
        (v->top2 >= cfg->brand_split_total ||
         (third >= cfg->brand_split_min && v->top3 >= cfg->brand_split_total))) {
        return BT_SPLIT;
    }
    return v->price_driven ? BT_NONE : BT_VARIETY;
}

void brand_classify(const struct customer *c, const struct model_config *cfg,
                    struct brand_view *v)
{
    const struct cu_brand *top[3];
    const struct cu_cat *k;
    uint32_t cat;

    memset(v, 0, sizeof(*v));
    v->top = v->recent = "";
    v->cat = customer_main_category(c);
    if (v->cat < 0) {
        return;
    }
    k = &c->cats[v->cat];
    cat = cu_hash32(k->name);
    top3(c, cat, top, v);
    if (v->purchases > 0) {
        v->top = top[0]->name;
        v->share = (double)top[0]->count / v->purchases;
        v->top2 = v->share + (top[1] ? (double)top[1]->count / v->purchases : 0);
        v->top3 = v->top2 + (top[2] ? (double)top[2]->count / v->purchases : 0);
    }
    if (k->nseq >= 3 && k->seq[k->nseq - 1] == k->seq[k->nseq - 2] &&
        k->seq[k->nseq - 2] == k->seq[k->nseq - 3]) {
        v->recent = brand_name(c, cat, k->seq[k->nseq - 1]);
    }
    v->price_driven = customer_net_orders(c) > 0 &&
                      customer_discount_share(c) >= cfg->brand_price_share;
    v->type = classify(k, cfg, v, top);
}
