/* flowpic-render: draw the FlowPics of a capture's flow windows as labelled PNG pictures. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pcap/pcap.h>

#include "conf.h"
#include "extract.h"
#include "flowpic.h"
#include "infer.h"
#include "model.h"
#include "render.h"

#define FPR_MAX_FLOWS 64
#define FPR_SWEEP_EVERY_US 1000000ull
#define FPR_MARGIN 16
#define FPR_BOX 384		/* pixels of a single picture */
#define FPR_THUMB 160		/* pixels of a grid picture */

/* One --flow selection: both endpoints as inet_ntop text, and the protocol. */
struct fpr_sel {
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	uint16_t pa, pb;
	uint8_t proto;
};

/* A picture kept for the grid. */
struct fpr_example {
	struct fp_cell *cells;
	uint32_t n;
	char line[3][128];
};

struct fpr_opts {
	const char *pcap, *model, *out;
	struct fpr_sel sel[FPR_MAX_FLOWS];
	unsigned int n_sel;
	int64_t window;		/* window index to draw, -1: all */
	uint32_t min_packets;
	uint32_t resolution;
	double window_s;
	float confidence;
	unsigned int max_pics;
	unsigned int per_cat;
	int grid;
};

struct fpr_run {
	const struct fpr_opts *o;
	struct fp_flow_table_ops ops;
	struct fp_model *model;
	struct fp_infer *infer;
	struct fp_flowpic *pic;
	unsigned int n_cats;		/* grid rows: classes + unknown, or 1 without a model */
	struct fpr_example *ex;		/* n_cats x per_cat */
	unsigned int *n_ex;
	unsigned int written;
	int err;
};

static void
fpr_usage(FILE *f)
{
	fprintf(f,
		"usage: flowpic-render --pcap FILE --out DIR [options]\n"
		"Draw the FlowPic of flow windows of a capture as PNG, labelled with the flow and,\n"
		"with a model, its verdict; the same parser, flow table and FlowPic builder as\n"
		"flowpicd.\n"
		"  --pcap FILE         capture (pcap or pcapng; Ethernet, Linux cooked, raw IP)\n"
		"  --out DIR           output directory (created if missing)\n"
		"  --model FILE        classify each window; resolution, direction and window\n"
		"                      length come from the model\n"
		"  --flow SPEC         only this flow, SRC:SPORT-DST:DPORT/PROTO (either direction;\n"
		"                      IPv6 as [ADDR]:PORT; PROTO tcp, udp, icmp or a number);\n"
		"                      repeatable\n"
		"  --window N          only window N of each flow (0 = the first)\n"
		"  --grid              one picture grid.png: a row of examples per category\n"
		"  --per-category N    examples per grid row (default 6)\n"
		"  --max N             most single pictures written (default 100)\n"
		"  --min-packets N     skip windows with fewer packets (default 10, as flowpicd)\n"
		"  --resolution R      without a model: picture resolution (default 32)\n"
		"  --window-seconds S  without a model: window length (default 60)\n"
		"  --confidence C      verdict threshold, below it 'unknown' (default 0.5)\n");
}

static int
fpr_parse_proto(const char *s, uint8_t *out)
{
	static const struct { const char *n; uint8_t p; } names[] = {
		{ "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "icmp6", 58 }, { "sctp", 132 },
	};
	char *end;
	unsigned long v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].n) == 0) {
			*out = names[i].p;
			return 0;
		}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 255)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

/* "ADDR:PORT" or "[ADDR6]:PORT" (len bytes of s) -> canonical address text and port. */
static int
fpr_parse_endpoint(const char *s, size_t len, char *addr, uint16_t *port)
{
	char buf[80], *colon, *end, *a;
	unsigned char bin[16];
	unsigned long p;
	int v6 = 0;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		*close = '\0';
		a = buf + 1;
		colon = close + 1;
		v6 = 1;
	} else {
		colon = strrchr(buf, ':');
		if (colon == NULL)
			return -EINVAL;
		*colon = '\0';
		a = buf;
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p > 65535)
		return -EINVAL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, a, bin) != 1 ||
			inet_ntop(v6 ? AF_INET6 : AF_INET, bin, addr, INET6_ADDRSTRLEN) == NULL)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

/* SRC:SPORT-DST:DPORT/PROTO -> selection; 0 or -EINVAL. */
static int
fpr_parse_sel(const char *s, struct fpr_sel *sel)
{
	const char *slash = strrchr(s, '/'), *dash = NULL, *p;
	int depth = 0;

	if (slash == NULL || fpr_parse_proto(slash + 1, &sel->proto) != 0)
		return -EINVAL;
	for (p = s; p < slash; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		else if (*p == '-' && depth == 0 && dash == NULL)
			dash = p;
	}
	if (dash == NULL ||
			fpr_parse_endpoint(s, (size_t)(dash - s), sel->a, &sel->pa) != 0 ||
			fpr_parse_endpoint(dash + 1, (size_t)(slash - dash - 1), sel->b,
				&sel->pb) != 0)
		return -EINVAL;
	return 0;
}

static int
fpr_parse_u32(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "flowpic-render: --%s: '%s' is not an integer in [%u, %u]\n",
			name, s, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
fpr_parse_args(int argc, char **argv, struct fpr_opts *o)
{
	static const struct option opts[] = {
		{ "pcap", required_argument, NULL, 'p' },
		{ "out", required_argument, NULL, 'o' },
		{ "model", required_argument, NULL, 'm' },
		{ "flow", required_argument, NULL, 'f' },
		{ "window", required_argument, NULL, 'w' },
		{ "grid", no_argument, NULL, 'g' },
		{ "per-category", required_argument, NULL, 'k' },
		{ "max", required_argument, NULL, 'n' },
		{ "min-packets", required_argument, NULL, 'P' },
		{ "resolution", required_argument, NULL, 'r' },
		{ "window-seconds", required_argument, NULL, 's' },
		{ "confidence", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v;
	char *end;
	int opt, rc = 0;

	memset(o, 0, sizeof(*o));
	o->window = -1;
	o->min_packets = 10;
	o->resolution = 32;
	o->window_s = 60;
	o->confidence = 0.5f;
	o->max_pics = 100;
	o->per_cat = 6;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': o->pcap = optarg; break;
		case 'o': o->out = optarg; break;
		case 'm': o->model = optarg; break;
		case 'g': o->grid = 1; break;
		case 'f':
			if (o->n_sel >= FPR_MAX_FLOWS) {
				fprintf(stderr, "flowpic-render: at most %d --flow\n", FPR_MAX_FLOWS);
				rc = -1;
			} else if (fpr_parse_sel(optarg, &o->sel[o->n_sel]) != 0) {
				fprintf(stderr, "flowpic-render: --flow '%s' is not "
					"SRC:SPORT-DST:DPORT/PROTO\n", optarg);
				rc = -1;
			} else {
				o->n_sel++;
			}
			break;
		case 'w':
			if (fpr_parse_u32("window", optarg, 0, UINT32_MAX, &v) == 0)
				o->window = v;
			else
				rc = -1;
			break;
		case 'k':
			if (fpr_parse_u32("per-category", optarg, 1, 64, &o->per_cat) != 0)
				rc = -1;
			break;
		case 'n':
			if (fpr_parse_u32("max", optarg, 0, 1000000, &o->max_pics) != 0)
				rc = -1;
			break;
		case 'P':
			if (fpr_parse_u32("min-packets", optarg, 1, 1000000, &o->min_packets) != 0)
				rc = -1;
			break;
		case 'r':
			if (fpr_parse_u32("resolution", optarg, 1, FP_FLOWPIC_RES_MAX,
					&o->resolution) != 0)
				rc = -1;
			break;
		case 's':
			errno = 0;
			o->window_s = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !isfinite(o->window_s) ||
					o->window_s < 1e-6 || o->window_s > 3600) {
				fprintf(stderr, "flowpic-render: --window-seconds: '%s' is not a "
					"number of seconds in [0.000001, 3600]\n", optarg);
				rc = -1;
			}
			break;
		case 'c':
			errno = 0;
			o->confidence = strtof(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' || !(o->confidence >= 0) ||
					o->confidence > 1) {
				fprintf(stderr, "flowpic-render: --confidence: '%s' is not in "
					"[0, 1]\n", optarg);
				rc = -1;
			}
			break;
		case 'h':
			fpr_usage(stdout);
			exit(0);
		default:
			fpr_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "flowpic-render: unexpected argument '%s'\n", argv[optind]);
		rc = -1;
	}
	if (rc == 0 && (o->pcap == NULL || o->out == NULL)) {
		fprintf(stderr, "flowpic-render: --pcap and --out are required\n");
		fpr_usage(stderr);
		rc = -1;
	}
	return rc == 0 ? 0 : -EINVAL;
}

/* 1 when the window's flow is selected (no --flow selects every flow). */
static int
fpr_selected(const struct fpr_opts *o, const struct fp_flow_key *k)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
	uint16_t plo, phi;
	unsigned int i;

	if (o->n_sel == 0)
		return 1;
	if (fp_flow_key_endpoints(k, 0, lo, sizeof(lo), &plo, hi, sizeof(hi), &phi) != 0)
		return 0;
	for (i = 0; i < o->n_sel; i++) {
		const struct fpr_sel *s = &o->sel[i];

		if (s->proto != k->proto)
			continue;
		if ((strcmp(s->a, lo) == 0 && s->pa == plo && strcmp(s->b, hi) == 0 &&
				s->pb == phi) || (strcmp(s->a, hi) == 0 && s->pa == phi &&
				strcmp(s->b, lo) == 0 && s->pb == plo))
			return 1;
	}
	return 0;
}

/* File name: NNNN-PROTO-SRC-SPORT-DST-DPORT-wINDEX.png, ':' of IPv6 written as '_'. */
static void
fpr_file_name(const struct fpr_run *run, const struct fp_window *w, char *path, size_t len)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], *p;
	const char *pn = fp_ip_proto_name(w->key.proto);
	uint16_t sp = 0, dp = 0;
	char proto[8];

	src[0] = dst[0] = '\0';
	fp_flow_key_endpoints(&w->key, w->init_swapped, src, sizeof(src), &sp, dst, sizeof(dst),
		&dp);
	for (p = src; *p != '\0'; p++)
		if (*p == ':')
			*p = '_';
	for (p = dst; *p != '\0'; p++)
		if (*p == ':')
			*p = '_';
	if (pn != NULL)
		snprintf(proto, sizeof(proto), "%s", pn);
	else
		snprintf(proto, sizeof(proto), "p%u", w->key.proto);
	snprintf(path, len, "%s/%04u-%s-%s-%u-%s-%u-w%u.png", run->o->out, run->written, proto,
		src, sp, dst, dp, w->index);
}

/* One labelled picture: flow, window, verdict above; the FlowPic; axes below. */
static int
fpr_write_single(struct fpr_run *run, const struct fp_window *w, const char *flow,
		const char *verdict)
{
	uint32_t r = fp_flowpic_resolution(run->pic);
	int side = fpr_pic_size(r, FPR_BOX), width, height, y, ret;
	unsigned int s = fpr_pic_scale(r, FPR_BOX);
	char line2[96], axis_t[64], geom[96], win[16], path[4200];
	struct fpr_canvas cv;
	const int lh = 2 * FPR_GLYPH_H + 6;

	snprintf(line2, sizeof(line2), "window %u  %" PRIu32 " packets  %" PRIu64 " bytes",
		w->index, w->packets, w->bytes);
	snprintf(axis_t, sizeof(axis_t), "time 0-%gs >", (double)fp_flowpic_window_us(run->pic)
		/ 1e6);
	width = side + 2 * FPR_MARGIN;
	if (fpr_text_width(flow, 2) + 2 * FPR_MARGIN > width)
		width = fpr_text_width(flow, 2) + 2 * FPR_MARGIN;
	if (fpr_text_width(line2, 2) + 2 * FPR_MARGIN > width)
		width = fpr_text_width(line2, 2) + 2 * FPR_MARGIN;
	height = FPR_MARGIN + 4 * lh + side + lh + FPR_MARGIN;
	ret = fpr_canvas_init(&cv, width, height, FPR_WHITE);
	if (ret != 0)
		return ret;
	y = FPR_MARGIN;
	fpr_draw_text(&cv, FPR_MARGIN, y, flow, 2, FPR_BLACK, 0);
	fpr_draw_text(&cv, FPR_MARGIN, y + lh, line2, 2, FPR_BLACK, 0);
	fpr_draw_text(&cv, FPR_MARGIN, y + 2 * lh, verdict, 2, 0x003399u, 0);
	fpr_draw_text(&cv, FPR_MARGIN, y + 3 * lh, "size 0-1500 ^", 2, FPR_GREY, 0);
	y += 4 * lh;
	fpr_draw_cells(&cv, FPR_MARGIN, y, FPR_BOX, r, fp_flowpic_cells(run->pic),
		fp_flowpic_nnz(run->pic));
	fpr_draw_text(&cv, FPR_MARGIN, y + side + 6, axis_t, 2, FPR_GREY, 0);
	/* where the picture is, so that readers can find a cell: x y pixels-per-cell R */
	snprintf(geom, sizeof(geom), "%d %d %u %u", FPR_MARGIN, y, s, r);
	snprintf(win, sizeof(win), "%u", w->index);
	fpr_file_name(run, w, path, sizeof(path));
	{
		const struct fpr_text t[] = {
			{ "flowpic:flow", flow }, { "flowpic:window", win },
			{ "flowpic:verdict", verdict }, { "flowpic:geometry", geom },
		};

		ret = fpr_png_write(&cv, path, t, 4);
	}
	fpr_canvas_free(&cv);
	if (ret != 0) {
		fprintf(stderr, "flowpic-render: %s: %s\n", path, strerror(-ret));
		return ret;
	}
	printf("%s\t%s\twindow %u\t%s\n", path, flow, w->index, verdict);
	run->written++;
	return 0;
}

/* Keep the current picture as an example of category c for the grid. */
static void
fpr_keep_example(struct fpr_run *run, unsigned int c, const struct fp_window *w,
		const char *verdict)
{
	struct fpr_example *e;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	uint16_t sp = 0, dp = 0;
	uint32_t n = fp_flowpic_nnz(run->pic);

	if (run->n_ex[c] >= run->o->per_cat)
		return;
	e = &run->ex[c * run->o->per_cat + run->n_ex[c]];
	e->cells = malloc((n ? n : 1) * sizeof(*e->cells));
	if (e->cells == NULL) {
		run->err = -ENOMEM;
		return;
	}
	memcpy(e->cells, fp_flowpic_cells(run->pic), n * sizeof(*e->cells));
	e->n = n;
	src[0] = dst[0] = '\0';
	fp_flow_key_endpoints(&w->key, w->init_swapped, src, sizeof(src), &sp, dst, sizeof(dst),
		&dp);
	snprintf(e->line[0], sizeof(e->line[0]), "%s:%u", src, sp);
	snprintf(e->line[1], sizeof(e->line[1]), "> %s:%u", dst, dp);
	snprintf(e->line[2], sizeof(e->line[2]), "w%u %s", w->index, verdict);
	run->n_ex[c]++;
}

/* Flow table callback: draw, classify and write or keep one window. */
static void
fpr_emit(void *ctx, struct fp_window *w)
{
	struct fpr_run *run = ctx;
	const struct fpr_opts *o = run->o;
	char flow[160], verdict[96];
	struct fp_rec_chunk *c;
	struct fp_verdict v;
	unsigned int cat = 0;

	if (run->err != 0 || w->packets < o->min_packets ||
			(o->window >= 0 && (int64_t)w->index != o->window) ||
			!fpr_selected(o, &w->key) || (!o->grid && run->written >= o->max_pics)) {
		fp_window_free(&run->ops, w);
		return;
	}
	fp_flowpic_reset(run->pic);
	for (c = fp_window_chunks(w); c != NULL; c = c->next)
		fp_flowpic_add_weighted(run->pic, fp_rec_chunk_recs(c), c->n, 1u << w->shift);
	if (fp_flow_key_format(&w->key, w->init_swapped, flow, sizeof(flow)) < 0)
		snprintf(flow, sizeof(flow), "?");
	snprintf(verdict, sizeof(verdict), "no model");
	if (run->infer != NULL) {
		if (fp_infer_set_input(run->infer, 0, run->pic) != 0 ||
				fp_infer_run(run->infer, 1, &v) != 0) {
			fprintf(stderr, "flowpic-render: inference failed\n");
			run->err = -EIO;
			fp_window_free(&run->ops, w);
			return;
		}
		cat = v.class_id == FP_VERDICT_UNKNOWN ? run->model->n_classes :
			(unsigned int)v.class_id;
		snprintf(verdict, sizeof(verdict), "%s %.2f", v.class_id == FP_VERDICT_UNKNOWN ?
			"unknown" : run->model->class_names[v.class_id], v.confidence);
	}
	if (o->grid)
		fpr_keep_example(run, cat, w, verdict);
	else if (fpr_write_single(run, w, flow, verdict) != 0)
		run->err = -EIO;
	fp_window_free(&run->ops, w);
}

static void *
fpr_alloc(void *ctx)
{
	(void)ctx;
	return malloc(FP_FLOW_CHUNK_SIZE);
}

static void
fpr_free(void *ctx, void *chunk)
{
	(void)ctx;
	free(chunk);
}

/* grid.png: per category a title row, then its examples side by side with three lines each. */
static int
fpr_write_grid(struct fpr_run *run)
{
	const struct fpr_opts *o = run->o;
	uint32_t r = fp_flowpic_resolution(run->pic);
	int side = fpr_pic_size(r, FPR_THUMB), cell_w = side + 12, lh = FPR_GLYPH_H + 3;
	int title_h = 2 * FPR_GLYPH_H + 10, cell_h = side + 3 * lh + 12, width, height, y, ret;
	unsigned int c, i;
	struct fpr_canvas cv;
	char path[4200], geom[64];

	width = 2 * FPR_MARGIN + (int)o->per_cat * cell_w;
	if (width < 2 * FPR_MARGIN + 400)
		width = 2 * FPR_MARGIN + 400;
	height = 2 * FPR_MARGIN;
	for (c = 0; c < run->n_cats; c++)	/* a category without examples takes one line */
		height += title_h + (run->n_ex[c] != 0 ? cell_h : 2 * lh);
	ret = fpr_canvas_init(&cv, width, height, FPR_WHITE);
	if (ret != 0)
		return ret;
	y = FPR_MARGIN;
	for (c = 0; c < run->n_cats; c++) {
		const char *name = run->model == NULL ? "all windows" :
			c < run->model->n_classes ? run->model->class_names[c] : "unknown";
		char title[96];

		snprintf(title, sizeof(title), "%s (%u)", name, run->n_ex[c]);
		fpr_draw_text(&cv, FPR_MARGIN, y, title, 2, FPR_BLACK, 0);
		y += title_h;
		for (i = 0; i < run->n_ex[c]; i++) {
			const struct fpr_example *e = &run->ex[c * o->per_cat + i];
			int x = FPR_MARGIN + (int)i * cell_w, k;

			fpr_draw_cells(&cv, x + 1, y + 1, FPR_THUMB, r, e->cells, e->n);
			for (k = 0; k < 3; k++)
				fpr_draw_text(&cv, x, y + side + 6 + k * lh, e->line[k], 1,
					k == 2 ? 0x003399u : FPR_BLACK, cell_w - 4);
		}
		if (run->n_ex[c] == 0)
			fpr_draw_text(&cv, FPR_MARGIN, y, "no windows", 1, FPR_GREY, 0);
		y += run->n_ex[c] != 0 ? cell_h : 2 * lh;
	}
	snprintf(path, sizeof(path), "%s/grid.png", o->out);
	snprintf(geom, sizeof(geom), "%d %d %d %d", side, cell_w, title_h, cell_h);
	{
		const struct fpr_text t[] = { { "flowpic:grid", geom } };

		ret = fpr_png_write(&cv, path, t, 1);
	}
	fpr_canvas_free(&cv);
	if (ret != 0) {
		fprintf(stderr, "flowpic-render: %s: %s\n", path, strerror(-ret));
		return ret;
	}
	for (c = 0; c < run->n_cats; c++)
		printf("%s\t%s\t%u examples\n", path, run->model == NULL ? "all windows" :
			c < run->model->n_classes ? run->model->class_names[c] : "unknown",
			run->n_ex[c]);
	return 0;
}

static int
fpr_setup(struct fpr_run *run, const struct fpr_opts *o)
{
	uint32_t r = o->resolution;
	uint64_t window_us = (uint64_t)llround(o->window_s * 1e6);
	enum fp_dir_mode dir = FP_DIR_BOTH;
	char err[512];

	memset(run, 0, sizeof(*run));
	run->o = o;
	if (o->model != NULL) {
		run->model = fp_model_load(o->model, err, sizeof(err));
		if (run->model == NULL) {
			fprintf(stderr, "flowpic-render: %s\n", err);
			return -EINVAL;
		}
		r = run->model->resolution;
		dir = run->model->direction;
		window_us = run->model->window_us;
		run->infer = fp_infer_create(run->model, 1, o->confidence, err, sizeof(err));
		if (run->infer == NULL) {
			fprintf(stderr, "flowpic-render: %s\n", err);
			return -EINVAL;
		}
	}
	run->pic = fp_flowpic_create(r, window_us, dir);
	if (run->pic == NULL) {
		fprintf(stderr, "flowpic-render: FlowPic builder: %s\n", strerror(errno));
		return -errno;
	}
	run->n_cats = run->model != NULL ? run->model->n_classes + 1 : 1;
	if (o->grid) {
		run->ex = calloc((size_t)run->n_cats * o->per_cat, sizeof(*run->ex));
		run->n_ex = calloc(run->n_cats, sizeof(*run->n_ex));
		if (run->ex == NULL || run->n_ex == NULL)
			return -ENOMEM;
	}
	if (mkdir(o->out, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "flowpic-render: %s: %s\n", o->out, strerror(errno));
		return -errno;
	}
	return 0;
}

static void
fpr_teardown(struct fpr_run *run)
{
	unsigned int i;

	if (run->ex != NULL)
		for (i = 0; i < run->n_cats * run->o->per_cat; i++)
			free(run->ex[i].cells);
	free(run->ex);
	free(run->n_ex);
	fp_flowpic_free(run->pic);
	fp_infer_free(run->infer);
	fp_model_free(run->model);
}

/* Read the capture through the flow table; windows come out through fpr_emit(). */
static int
fpr_read(struct fpr_run *run)
{
	const struct fpr_opts *o = run->o;
	char errbuf[PCAP_ERRBUF_SIZE];
	struct fp_flow_table_conf conf;
	struct fp_conf_flow def;
	struct fp_flow_table *t;
	struct pcap_pkthdr *h;
	const u_char *data;
	struct fp_pkt_meta m;
	uint64_t last = 0, next_sweep = 0;
	pcap_t *p;
	int dlt, rc;

	if (fp_conf_flow_defaults(&def) != 0) {
		fprintf(stderr, "flowpic-render: out of memory\n");
		return -ENOMEM;
	}
	p = pcap_open_offline_with_tstamp_precision(o->pcap, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
	if (p == NULL) {
		fprintf(stderr, "flowpic-render: %s: %s\n", o->pcap, errbuf);
		return -EINVAL;
	}
	dlt = pcap_datalink(p);
	if (!fpx_link_supported(dlt)) {
		fprintf(stderr, "flowpic-render: %s: link type %d not supported\n", o->pcap, dlt);
		pcap_close(p);
		return -EINVAL;
	}
	run->ops.alloc_chunk = fpr_alloc;
	run->ops.free_chunk = fpr_free;
	run->ops.emit = fpr_emit;
	run->ops.ctx = run;
	memset(&conf, 0, sizeof(conf));
	conf.capacity = 1u << 16;
	conf.window_us = fp_flowpic_window_us(run->pic);
	/* flowpicd's default idle timeouts and record cap; the window is the model's */
	memcpy(conf.idle_us, def.idle_us, sizeof(conf.idle_us));
	conf.max_records = def.max_records;
	conf.ops = run->ops;
	t = fp_flow_table_create(&conf);
	if (t == NULL) {
		fprintf(stderr, "flowpic-render: flow table: %s\n", strerror(errno));
		pcap_close(p);
		return -ENOMEM;
	}
	while (run->err == 0 && (rc = pcap_next_ex(p, &h, &data)) == 1) {
		uint64_t ts;

		if (h->ts.tv_sec < 0)
			continue;
		ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		if (fpx_link_parse(dlt, data, h->caplen, h->len, &m) != FP_PARSE_OK)
			continue;
		fp_flow_table_add(t, &m, ts);
		if (ts > last)
			last = ts;
		if (last >= next_sweep) {
			fp_flow_table_sweep(t, last, conf.capacity);
			next_sweep = last + FPR_SWEEP_EVERY_US;
		}
	}
	if (run->err == 0 && rc == -1) {
		fprintf(stderr, "flowpic-render: %s: %s\n", o->pcap, pcap_geterr(p));
		run->err = -EIO;
	}
	fp_flow_table_flush(t, last);
	fp_flow_table_free(t);
	pcap_close(p);
	return run->err;
}

int
main(int argc, char **argv)
{
	struct fpr_opts o;
	struct fpr_run run;
	int ret;

	if (fpr_parse_args(argc, argv, &o) != 0)
		return 2;
	ret = fpr_setup(&run, &o);
	if (ret == 0)
		ret = fpr_read(&run);
	if (ret == 0 && o.grid)
		ret = fpr_write_grid(&run);
	if (ret == 0 && !o.grid && run.written == 0)
		fprintf(stderr, "flowpic-render: no window matched (check --flow, --window and "
			"--min-packets)\n");
	fpr_teardown(&run);
	return ret == 0 ? 0 : 1;
}
