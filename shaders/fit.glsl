// @effect fit the picture to the output: letterbox, crop to fill, or stretch; applies the master fade
// Always the last stage; its parameters are output/fit, output/upscale and output/upscale_output.
// Here u_resolution is the output size and u_input_size the generator frame size, whose aspect
// the picture keeps in modes 0 and 1. The chain also runs this program to enlarge a generator
// frame that is smaller than the working size (stretched, unfaded), so one `upscale` filter
// serves both enlargements. The chain compiles it once per `upscale` value (a constant in each
// program, so only that filter's code runs) and reads `upscale_output` itself.
uniform int fit;      // @param 0 [0, 2] "0 fit (letterbox), 1 fill (crop), 2 stretch"
uniform int upscale;  // @param 0 [0, 2] "filter where the picture is enlarged: 0 bilinear, 1 bicubic (Catmull-Rom), 2 Lanczos-3"
uniform bool upscale_output;  // @param false "the last enlargement, working size to output, uses it too (costly on a CPU; off: bilinear)"

// Catmull-Rom bicubic in 9 bilinear taps: the two middle taps of each axis share one
// hardware-filtered fetch placed between them by their weights.
vec3 bicubic(vec2 uv, vec2 size) {
    vec2 pos = uv * size;
    vec2 c = floor(pos - 0.5) + 0.5;
    vec2 f = pos - c;
    vec2 w0 = f * (-0.5 + f * (1.0 - 0.5 * f));
    vec2 w1 = 1.0 + f * f * (-2.5 + 1.5 * f);
    vec2 w2 = f * (0.5 + f * (2.0 - 1.5 * f));
    vec2 w3 = f * f * (-0.5 + 0.5 * f);
    vec2 w12 = w1 + w2;
    vec2 t0 = (c - 1.0) / size;
    vec2 t3 = (c + 2.0) / size;
    vec2 t12 = (c + w2 / w12) / size;
    vec3 s = (texture(u_input, vec2(t0.x, t0.y)).rgb * w0.x
            + texture(u_input, vec2(t12.x, t0.y)).rgb * w12.x
            + texture(u_input, vec2(t3.x, t0.y)).rgb * w3.x) * w0.y;
    s += (texture(u_input, vec2(t0.x, t12.y)).rgb * w0.x
        + texture(u_input, vec2(t12.x, t12.y)).rgb * w12.x
        + texture(u_input, vec2(t3.x, t12.y)).rgb * w3.x) * w12.y;
    s += (texture(u_input, vec2(t0.x, t3.y)).rgb * w0.x
        + texture(u_input, vec2(t12.x, t3.y)).rgb * w12.x
        + texture(u_input, vec2(t3.x, t3.y)).rgb * w3.x) * w3.y;
    return s;
}

float lanczos3(float x) {
    x = abs(x);
    if (x < 1e-5) return 1.0;
    if (x >= 3.0) return 0.0;
    float px = PI * x;
    return 3.0 * sin(px) * sin(px / 3.0) / (px * px);
}

// Lanczos with three lobes: 6x6 texels, separable weights, normalised so flat areas stay flat.
vec3 lanczos(vec2 uv, ivec2 size) {
    vec2 pos = uv * vec2(size) - 0.5;
    vec2 base = floor(pos);
    vec2 f = pos - base;
    float wx[6];
    float wy[6];
    float sum_x = 0.0;
    float sum_y = 0.0;
    for (int i = 0; i < 6; i++) {
        wx[i] = lanczos3(f.x - float(i - 2));
        wy[i] = lanczos3(f.y - float(i - 2));
        sum_x += wx[i];
        sum_y += wy[i];
    }
    ivec2 first = ivec2(base) - 2;
    vec3 s = vec3(0.0);
    for (int j = 0; j < 6; j++) {
        int y = clamp(first.y + j, 0, size.y - 1);
        vec3 row = vec3(0.0);
        for (int i = 0; i < 6; i++) {
            row += texelFetch(u_input, ivec2(clamp(first.x + i, 0, size.x - 1), y), 0).rgb * wx[i];
        }
        s += row * wy[j];
    }
    return s / (sum_x * sum_y);
}

void main() {
    float out_aspect = u_resolution.x / u_resolution.y;
    float in_aspect = u_input_size.x / max(u_input_size.y, 1.0);
    vec2 scale = vec2(1.0);
    if (fit != 2) {
        // scale < 1 on an axis shows only part of the picture; > 1 leaves bars.
        float ratio = out_aspect / in_aspect;
        bool wider = ratio > 1.0;
        if (fit == 0) scale = wider ? vec2(ratio, 1.0) : vec2(1.0, 1.0 / ratio);
        else scale = wider ? vec2(1.0, 1.0 / ratio) : vec2(ratio, 1.0);
    }
    vec2 q = (v_uv - 0.5) * scale + 0.5;
    vec2 within = step(abs(q - 0.5), vec2(0.5));
    float inside = within.x * within.y;
    ivec2 size = textureSize(u_input, 0);
    // Texels of the input per output pixel: below 1 the picture is being enlarged, where the
    // sharper filters pay off; shrinking (or 1:1) stays bilinear.
    vec2 step_texels = scale * vec2(size) / u_resolution;
    bool enlarging = max(step_texels.x, step_texels.y) < 0.999;
    vec3 c;
    if (upscale == 2 && enlarging) c = lanczos(q, size);
    else if (upscale == 1 && enlarging) c = bicubic(q, vec2(size));
    else c = texture(u_input, q).rgb;
    // The sharper filters overshoot a little beside hard edges; never below black.
    c = max(c, 0.0) * inside;
    frag_color = vec4(c * u_fade, 1.0);
}
