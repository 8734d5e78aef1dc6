/*
 * bgfit.c - BG/NBD and Gamma-Gamma fitted by maximum likelihood: the
 * log-likelihoods and the optimiser (Nelder-Mead restarted until stable,
 * then Newton).
 *
 * Equation numbers refer to Fader, Hardie & Lee (2005), "Counting Your
 * Customers the Easy Way", Marketing Science 24(2).  Pure maths, no I/O, no
 * global state: every function is safe to call from any thread.
 */
#include "state/fit/bgfit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Digamma: recurrence up to x >= 6, then the asymptotic series (error below
 * 1e-15 there).  Only the fits' gradients use it, for x > 0. */
static double digamma(double x)
{
    double acc = 0.0, x2;

    if (!(x > 0.0)) {
        return NAN;
    }
    for (; x < 6.0; x += 1.0) {
        acc -= 1.0 / x;
    }
    x2 = 1.0 / (x * x);
    return acc + log(x) - 0.5 / x -
           x2 * (1.0 / 12 -
                 x2 * (1.0 / 120 - x2 * (1.0 / 252 - x2 * (1.0 / 240 - x2 / 132))));
}

/* ---- BG/NBD likelihood ---------------------------------------------------- */

/* The parts of eq. (6) that depend on x but not on t_x or T; customers with
 * the same x share them, which the fit exploits. */
struct bg_xterm {
    double x;
    double base;  /* ln A_1 + ln A_2 */
    double ldrop; /* ln(a / (b + x - 1)), x > 0 only */
};

static void bg_xterm_init(struct bg_xterm *xt, const struct bg_params *p, double x)
{
    xt->x = x;
    xt->base = lgamma(p->r + x) - lgamma(p->r) + p->r * log(p->alpha) +
               lgamma(p->a + p->b) + lgamma(p->b + x) - lgamma(p->b) -
               lgamma(p->a + p->b + x);
    xt->ldrop = x > 0 ? log(p->a) - log(p->b + x - 1.0) : 0.0;
}

/* The two terms of eq. (6) after A_1 A_2: ln A_3 and ln A_4 (x > 0). */
static void bg_ll_terms(const struct bg_params *p, const struct bg_xterm *xt, double t_x,
                        double T, double *l3, double *l4)
{
    *l3 = -(p->r + xt->x) * log(p->alpha + T);
    *l4 = xt->x > 0 ? xt->ldrop - (p->r + xt->x) * log(p->alpha + t_x) : -INFINITY;
}

/* Eq. (6): ln(A_1 A_2 (A_3 + delta(x > 0) A_4)), the sum by log-sum-exp. */
static double bg_ll_cell(const struct bg_params *p, const struct bg_xterm *xt, double t_x,
                         double T)
{
    double l3, l4;

    bg_ll_terms(p, xt, t_x, T, &l3, &l4);
    if (xt->x <= 0) {
        return xt->base + l3;
    }
    return xt->base + fmax(l3, l4) + log1p(exp(fmin(l3, l4) - fmax(l3, l4)));
}

double bg_loglik_one(const struct bg_params *p, const struct bg_obs *o)
{
    struct bg_xterm xt;

    bg_xterm_init(&xt, p, o->x);
    return bg_ll_cell(p, &xt, o->t_x, o->T);
}

double bg_loglik(const struct bg_params *p, const struct bg_obs *obs, size_t n)
{
    double sum = 0.0;

    for (size_t i = 0; i < n; i++) {
        sum += bg_loglik_one(p, &obs[i]);
    }
    return sum;
}

/* ---- Gamma-Gamma likelihood ------------------------------------------------ */

static int gg_usable(const struct bg_obs *o)
{
    return o->x > 0 && o->mvalue > 0;
}

/* Density of the mean spend of x purchases (Fader, Hardie & Lee 2005b). */
double gg_loglik_one(const struct gg_params *p, const struct bg_obs *o)
{
    double px = p->p * o->x;

    return lgamma(px + p->q) - lgamma(px) - lgamma(p->q) + p->q * log(p->gamma) +
           (px - 1.0) * log(o->mvalue) + px * log(o->x) -
           (px + p->q) * log(o->x * o->mvalue + p->gamma);
}

double gg_loglik(const struct gg_params *p, const struct bg_obs *obs, size_t n)
{
    double sum = 0.0;

    for (size_t i = 0; i < n; i++) {
        if (gg_usable(&obs[i])) {
            sum += gg_loglik_one(p, &obs[i]);
        }
    }
    return sum;
}

/* ---- Nelder-Mead ---------------------------------------------------------- */

#define NM_MAXN 4

typedef double (*nm_func)(const double *x, void *ctx);

struct nm_simplex {
    int n;
    double v[NM_MAXN + 1][NM_MAXN];
    double f[NM_MAXN + 1];
};

/* Insertion sort by value: vertex 0 best, vertex n worst. */
static void nm_order(struct nm_simplex *s)
{
    for (int i = 1; i <= s->n; i++) {
        for (int j = i; j > 0 && s->f[j] < s->f[j - 1]; j--) {
            double tf = s->f[j], tv[NM_MAXN];

            memcpy(tv, s->v[j], sizeof tv);
            memcpy(s->v[j], s->v[j - 1], sizeof tv);
            memcpy(s->v[j - 1], tv, sizeof tv);
            s->f[j] = s->f[j - 1];
            s->f[j - 1] = tf;
        }
    }
}

/* out = centroid of the best n vertices + coef * (centroid - worst). */
static void nm_point(const struct nm_simplex *s, double coef, double *out)
{
    for (int k = 0; k < s->n; k++) {
        double c = 0.0;

        for (int i = 0; i < s->n; i++) {
            c += s->v[i][k];
        }
        c /= s->n;
        out[k] = c + coef * (c - s->v[s->n][k]);
    }
}

static void nm_replace_worst(struct nm_simplex *s, const double *x, double fx)
{
    memcpy(s->v[s->n], x, sizeof(double) * (size_t)s->n);
    s->f[s->n] = fx;
}

static void nm_shrink(struct nm_simplex *s, nm_func f, void *ctx)
{
    for (int i = 1; i <= s->n; i++) {
        for (int k = 0; k < s->n; k++) {
            s->v[i][k] = s->v[0][k] + 0.5 * (s->v[i][k] - s->v[0][k]);
        }
        s->f[i] = f(s->v[i], ctx);
    }
}

/* Both the values and the vertices have collapsed onto the best one. */
static int nm_done(const struct nm_simplex *s, double ftol, double xtol)
{
    double size = 0.0;

    if (s->f[s->n] - s->f[0] > ftol * (1.0 + fabs(s->f[0]))) {
        return 0;
    }
    for (int i = 1; i <= s->n; i++) {
        for (int k = 0; k < s->n; k++) {
            size = fmax(size, fabs(s->v[i][k] - s->v[0][k]));
        }
    }
    return size <= xtol;
}

/* One Nelder-Mead step (reflect, expand, contract or shrink). */
static void nm_step(struct nm_simplex *s, nm_func f, void *ctx)
{
    double xr[NM_MAXN], xe[NM_MAXN], xc[NM_MAXN], fr, fe, fc;

    nm_point(s, 1.0, xr);
    fr = f(xr, ctx);
    if (fr < s->f[0]) {
        nm_point(s, 2.0, xe);
        fe = f(xe, ctx);
        if (fe < fr) {
            nm_replace_worst(s, xe, fe);
        } else {
            nm_replace_worst(s, xr, fr);
        }
        return;
    }
    if (fr < s->f[s->n - 1]) {
        nm_replace_worst(s, xr, fr);
        return;
    }
    nm_point(s, fr < s->f[s->n] ? 0.5 : -0.5, xc);
    fc = f(xc, ctx);
    if (fc < fmin(fr, s->f[s->n])) {
        nm_replace_worst(s, xc, fc);
    } else {
        nm_shrink(s, f, ctx);
    }
}

/* Minimises f from x (overwritten with the best vertex), axis steps of
 * `step`.  Returns the iterations used, negative if maxit ran out. */
static int nm_minimize(nm_func f, void *ctx, double *x, int n, double step, double ftol,
                       double xtol, int maxit)
{
    struct nm_simplex s;
    int it;

    s.n = n;
    for (int i = 0; i <= n; i++) {
        memcpy(s.v[i], x, sizeof(double) * (size_t)n);
        if (i > 0) {
            s.v[i][i - 1] += step;
        }
        s.f[i] = f(s.v[i], ctx);
    }
    for (it = 0; it < maxit; it++) {
        nm_order(&s);
        if (nm_done(&s, ftol, xtol)) {
            break;
        }
        nm_step(&s, f, ctx);
    }
    nm_order(&s);
    memcpy(x, s.v[0], sizeof(double) * (size_t)n);
    return it < maxit ? it : -it;
}

typedef void (*grad_func)(const double *x, void *ctx, double *g);

/* A function to minimise, its gradient and their shared context. */
struct fit_problem {
    nm_func f;
    grad_func g;
    void *ctx;
    int n;
};

#define FIT_MAX_ROUNDS 20
#define FIT_MAXIT      20000
#define NEWTON_MAXIT   20

/* Restarts Nelder-Mead from its own answer until a round no longer moves
 * it: a single run can stall on a degenerate simplex in a curved valley. */
static int nm_restarts(const struct fit_problem *pr, double *x, int *iterations)
{
    double prev[NM_MAXN], moved;
    int it;

    for (int round = 0; round < FIT_MAX_ROUNDS; round++) {
        memcpy(prev, x, sizeof(double) * (size_t)pr->n);
        it = nm_minimize(pr->f, pr->ctx, x, pr->n, round == 0 ? 0.5 : 0.05, 1e-15, 1e-10,
                         FIT_MAXIT);
        *iterations += it < 0 ? -it : it;
        moved = 0.0;
        for (int k = 0; k < pr->n; k++) {
            moved = fmax(moved, fabs(x[k] - prev[k]));
        }
        if (round > 0 && it >= 0 && moved <= 1e-9) {
            return 1;
        }
    }
    return 0;
}

static double max_abs(const double *v, int n)
{
    double m = 0.0;

    for (int i = 0; i < n; i++) {
        m = fmax(m, fabs(v[i]));
    }
    return m;
}

static void swap_double(double *u, double *v)
{
    double t = *u;

    *u = *v;
    *v = t;
}

/* Solves A d = b into b (Gaussian elimination, partial pivoting). */
static int solve(double A[NM_MAXN][NM_MAXN], double *b, int n)
{
    for (int c = 0; c < n; c++) {
        int piv = c;

        for (int r = c + 1; r < n; r++) {
            if (fabs(A[r][c]) > fabs(A[piv][c])) {
                piv = r;
            }
        }
        if (!(fabs(A[piv][c]) > 0.0)) {
            return -1;
        }
        for (int k = 0; k < n; k++) {
            swap_double(&A[c][k], &A[piv][k]);
        }
        swap_double(&b[c], &b[piv]);
        for (int r = c + 1; r < n; r++) {
            double m = A[r][c] / A[c][c];

            for (int k = c; k < n; k++) {
                A[r][k] -= m * A[c][k];
            }
            b[r] -= m * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        for (int k = r + 1; k < n; k++) {
            b[r] -= A[r][k] * b[k];
        }
        b[r] /= A[r][r];
    }
    return 0;
}

/* Newton step d = -H^-1 g, H by central differences of the gradient. */
static int newton_step(const struct fit_problem *pr, const double *x, const double *g,
                       double *d)
{
    double H[NM_MAXN][NM_MAXN], xs[NM_MAXN], gp[NM_MAXN], gm[NM_MAXN];
    const double h = 1e-5;

    for (int j = 0; j < pr->n; j++) {
        memcpy(xs, x, sizeof(double) * (size_t)pr->n);
        xs[j] = x[j] + h;
        pr->g(xs, pr->ctx, gp);
        xs[j] = x[j] - h;
        pr->g(xs, pr->ctx, gm);
        for (int i = 0; i < pr->n; i++) {
            H[i][j] = (gp[i] - gm[i]) / (2.0 * h);
        }
    }
    for (int i = 0; i < pr->n; i++) {
        for (int j = 0; j < i; j++) {
            H[i][j] = H[j][i] = 0.5 * (H[i][j] + H[j][i]);
        }
        d[i] = -g[i];
    }
    return solve(H, d, pr->n);
}

/* Nelder-Mead only sees f, whose rounding noise (~1e-11 on a sum of ~1e4)
 * leaves the 6th decimal of the flatter parameters to chance; the analytic
 * gradient does not, so Newton finishes from NM's answer.  A step is taken
 * only while it shrinks the gradient without raising f, which keeps it in
 * the minimum's basin.  Returns the final max |gradient|. */
static double newton_polish(const struct fit_problem *pr, double *x)
{
    double g[NM_MAXN], d[NM_MAXN], xn[NM_MAXN], gn[NM_MAXN], fx = pr->f(x, pr->ctx);

    pr->g(x, pr->ctx, g);
    for (int it = 0; it < NEWTON_MAXIT; it++) {
        if (newton_step(pr, x, g, d) < 0 || !(max_abs(d, pr->n) < 0.1)) {
            break;
        }
        for (int i = 0; i < pr->n; i++) {
            xn[i] = x[i] + d[i];
        }
        pr->g(xn, pr->ctx, gn);
        if (!(max_abs(gn, pr->n) < max_abs(g, pr->n)) ||
            pr->f(xn, pr->ctx) > fx + 1e-12 * (1.0 + fabs(fx))) {
            break;
        }
        memcpy(x, xn, sizeof(double) * (size_t)pr->n);
        memcpy(g, gn, sizeof g);
    }
    return max_abs(g, pr->n);
}

/* Minimises pr->f from x; 1 if both stages converged. */
static int fit_minimize(const struct fit_problem *pr, double *x, int *iterations)
{
    int ok;

    *iterations = 0;
    ok = nm_restarts(pr, x, iterations);
    return newton_polish(pr, x) < 1e-6 && ok;
}

/* ---- BG/NBD fit -------------------------------------------------------- */

/* Customers with identical (x, t_x, T), counted once with a weight: many
 * one-time buyers share their cohort's T. */
struct bg_cell {
    double x, t_x, T, w;
};

struct bg_fitctx {
    struct bg_cell *cells;
    size_t ncells;
};

static int bg_cell_cmp(const void *pa, const void *pb)
{
    const struct bg_cell *a = pa, *b = pb;

    if (a->x != b->x) {
        return a->x < b->x ? -1 : 1;
    }
    if (a->t_x != b->t_x) {
        return a->t_x < b->t_x ? -1 : 1;
    }
    if (a->T != b->T) {
        return a->T < b->T ? -1 : 1;
    }
    return 0;
}

static int bg_obs_valid(const struct bg_obs *o)
{
    return isfinite(o->x) && isfinite(o->t_x) && isfinite(o->T) && o->x >= 0 &&
           o->t_x >= 0 && o->t_x <= o->T;
}

/* Fills ctx with the sorted, merged cells; -1 on invalid input or ENOMEM. */
static int bg_fitctx_init(struct bg_fitctx *ctx, const struct bg_obs *obs, size_t n)
{
    size_t m = 0;

    ctx->cells = malloc(n * sizeof *ctx->cells);
    if (ctx->cells == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!bg_obs_valid(&obs[i])) {
            return -1;
        }
        ctx->cells[i] = (struct bg_cell){obs[i].x, obs[i].t_x, obs[i].T, 1.0};
    }
    qsort(ctx->cells, n, sizeof *ctx->cells, bg_cell_cmp);
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && bg_cell_cmp(&ctx->cells[m - 1], &ctx->cells[i]) == 0) {
            ctx->cells[m - 1].w += 1.0;
        } else {
            ctx->cells[m++] = ctx->cells[i];
        }
    }
    ctx->ncells = m;
    return 0;
}

static void bg_params_from_log(struct bg_params *p, const double *lp)
{
    p->r = exp(lp[0]);
    p->alpha = exp(lp[1]);
    p->a = exp(lp[2]);
    p->b = exp(lp[3]);
}

static double bg_negll(const double *lp, void *vctx)
{
    const struct bg_fitctx *ctx = vctx;
    struct bg_params p;
    struct bg_xterm xt = {.x = -1.0};
    double sum = 0.0;

    bg_params_from_log(&p, lp);
    for (size_t i = 0; i < ctx->ncells; i++) {
        const struct bg_cell *c = &ctx->cells[i];

        if (c->x != xt.x) { /* cells are sorted by x */
            bg_xterm_init(&xt, &p, c->x);
        }
        sum += c->w * bg_ll_cell(&p, &xt, c->t_x, c->T);
    }
    return isfinite(sum) ? -sum : HUGE_VAL;
}

/* x-dependent parts of the gradient of eq. (6) by r, a and b. */
static void bg_xgrad(const struct bg_params *p, double x, double *dr, double *da,
                     double *db)
{
    double ab = digamma(p->a + p->b) - digamma(p->a + p->b + x);

    *dr = digamma(p->r + x) - digamma(p->r) + log(p->alpha);
    *da = ab;
    *db = ab + digamma(p->b + x) - digamma(p->b);
}

/* Gradient of bg_negll by the log-parameters. */
static void bg_negll_grad(const double *lp, void *vctx, double *g)
{
    const struct bg_fitctx *ctx = vctx;
    struct bg_params p;
    struct bg_xterm xt = {.x = -1.0};
    double dr = 0, da = 0, db = 0, l3, l4, w4;

    bg_params_from_log(&p, lp);
    g[0] = g[1] = g[2] = g[3] = 0.0;
    for (size_t i = 0; i < ctx->ncells; i++) {
        const struct bg_cell *c = &ctx->cells[i];

        if (c->x != xt.x) {
            bg_xterm_init(&xt, &p, c->x);
            bg_xgrad(&p, c->x, &dr, &da, &db);
        }
        bg_ll_terms(&p, &xt, c->t_x, c->T, &l3, &l4);
        w4 = c->x > 0 ? 1.0 / (1.0 + exp(l3 - l4)) : 0.0; /* A_4's share */
        g[0] -= c->w * p.r *
                (dr - (1 - w4) * log(p.alpha + c->T) - w4 * log(p.alpha + c->t_x));
        g[1] -= c->w * p.alpha *
                (p.r / p.alpha -
                 (p.r + c->x) * ((1 - w4) / (p.alpha + c->T) + w4 / (p.alpha + c->t_x)));
        g[2] -= c->w * p.a * (da + w4 / p.a);
        g[3] -= c->w * p.b * (db - (c->x > 0 ? w4 / (p.b + c->x - 1.0) : 0.0));
    }
}

int bg_fit(const struct bg_obs *obs, size_t n, struct bg_fit_result *out)
{
    struct bg_fitctx ctx = {NULL, 0};
    struct fit_problem pr = {bg_negll, bg_negll_grad, &ctx, 4};
    double lp[4], meanT = 0.0;
    int rc = -1;

    if (n == 0 || bg_fitctx_init(&ctx, obs, n) < 0) {
        goto out;
    }
    for (size_t i = 0; i < ctx.ncells; i++) { /* sorted: any input order sums alike */
        meanT += ctx.cells[i].w * ctx.cells[i].T / (double)n;
    }
    /* alpha is a time scale: starting it at the mean T makes the search
     * path the same whatever the time unit. */
    lp[0] = 0.0;
    lp[1] = log(fmax(meanT, 1e-6));
    lp[2] = 0.0;
    lp[3] = 0.0;
    out->converged = fit_minimize(&pr, lp, &out->iterations);
    bg_params_from_log(&out->params, lp);
    out->loglik = -bg_negll(lp, &ctx);
    out->n = n;
    if (isfinite(out->loglik)) {
        rc = 0;
    }
out:
    free(ctx.cells);
    return rc;
}

/* ---- Gamma-Gamma fit ------------------------------------------------------ */

/* The fit sees the repeaters sorted, so its floating-point sums, and with
 * them the optimiser's path, do not depend on the order the customers were
 * read in (a file, or a SCAN of Redis). */
struct gg_fitctx {
    struct bg_obs *obs;
    size_t n;
};

static int gg_obs_cmp(const void *va, const void *vb)
{
    const struct bg_obs *a = va, *b = vb;

    if (a->x != b->x) {
        return a->x < b->x ? -1 : 1;
    }
    if (a->mvalue != b->mvalue) {
        return a->mvalue < b->mvalue ? -1 : 1;
    }
    return 0;
}

static double gg_negll(const double *lp, void *vctx)
{
    const struct gg_fitctx *ctx = vctx;
    struct gg_params p = {exp(lp[0]), exp(lp[1]), exp(lp[2])};
    double sum = gg_loglik(&p, ctx->obs, ctx->n);

    return isfinite(sum) ? -sum : HUGE_VAL;
}

/* Gradient of gg_negll by the log-parameters. */
static void gg_negll_grad(const double *lp, void *vctx, double *g)
{
    const struct gg_fitctx *ctx = vctx;
    double p = exp(lp[0]), q = exp(lp[1]), v = exp(lp[2]);
    double dq0 = log(v) - digamma(q);

    g[0] = g[1] = g[2] = 0.0;
    for (size_t i = 0; i < ctx->n; i++) {
        const struct bg_obs *o = &ctx->obs[i];
        double x = o->x, s = x * o->mvalue + v, psi;

        psi = digamma(p * x + q);
        g[0] -= p * x * (psi - digamma(p * x) + log(o->mvalue) + log(x) - log(s));
        g[1] -= q * (psi + dq0 - log(s));
        g[2] -= v * (q / v - (p * x + q) / s);
    }
}

int gg_fit(const struct bg_obs *obs, size_t n, struct gg_fit_result *out)
{
    struct gg_fitctx ctx = {NULL, 0};
    struct fit_problem pr = {gg_negll, gg_negll_grad, &ctx, 3};
    double lp[3], mean = 0.0;
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        if (!isfinite(obs[i].x) || !isfinite(obs[i].mvalue) || obs[i].mvalue < 0) {
            return -1;
        }
    }
    ctx.obs = malloc((n > 0 ? n : 1) * sizeof *ctx.obs);
    if (ctx.obs == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (gg_usable(&obs[i])) {
            ctx.obs[ctx.n++] = obs[i];
        }
    }
    if (ctx.n == 0) {
        goto out;
    }
    qsort(ctx.obs, ctx.n, sizeof *ctx.obs, gg_obs_cmp);
    for (size_t i = 0; i < ctx.n; i++) {
        mean += ctx.obs[i].mvalue;
    }
    /* gamma is a money scale, p and q are not: start it at the mean spend. */
    lp[0] = 0.0;
    lp[1] = 0.0;
    lp[2] = log(mean / (double)ctx.n);
    out->converged = fit_minimize(&pr, lp, &out->iterations);
    out->params = (struct gg_params){exp(lp[0]), exp(lp[1]), exp(lp[2])};
    out->loglik = -gg_negll(lp, &ctx);
    out->n = ctx.n;
    rc = isfinite(out->loglik) ? 0 : -1;
out:
    free(ctx.obs);
    return rc;
}
