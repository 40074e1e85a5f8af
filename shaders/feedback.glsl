// @effect trails: the previous output, zoomed, turned and fading, lightens the new image
// The previous frame is sampled around the centre with zoom and rotation, dimmed by `decay`
// and combined with the incoming image as "lighten", so bright things leave trails and a still
// image keeps its own brightness. Setting amount to 0 turns the effect off.
uniform float amount;     // @param 0.8 [0, 1] smoothing=0.1 "how strongly the trail shows"
uniform float decay;      // @param 0.92 [0, 1] smoothing=0.1 "how much of the trail survives each frame"
uniform float zoom;       // @param 1.01 [0.9, 1.1] smoothing=0.2 "trail zoom per frame (>1 flies outward)"
uniform float rotate;     // @param 0 [-10, 10] smoothing=0.2 "trail rotation per frame, degrees"
uniform float drift_x;    // @param 0 [-0.02, 0.02] smoothing=0.2 "trail drift per frame, fraction of width"
uniform float drift_y;    // @param 0 [-0.02, 0.02] smoothing=0.2 "trail drift per frame, fraction of height"
uniform float hue_drift;  // @param 0 [-0.1, 0.1] smoothing=0.2 "trail hue turn per frame, in turns"
uniform float beat_zoom;  // @param 0 [0, 0.1] "extra zoom kick on each beat"

vec3 turn_hue(vec3 c, float turns) {
    // Rotation about the grey axis in YIQ space: cheap and keeps luma.
    const mat3 to_yiq = mat3(0.299, 0.596, 0.211, 0.587, -0.274, -0.523, 0.114, -0.322, 0.312);
    const mat3 to_rgb = mat3(1.0, 1.0, 1.0, 0.956, -0.272, -1.106, 0.621, -0.647, 1.703);
    vec3 yiq = to_yiq * c;
    float a = turns * TAU;
    yiq.yz = mat2(cos(a), sin(a), -sin(a), cos(a)) * yiq.yz;
    return to_rgb * yiq;
}

void main() {
    vec4 color = texture(u_input, v_uv);
    float kick = beat_zoom * pow(1.0 - u_beat_phase, 4.0);
    float a = radians(rotate);
    vec2 p = v_uv - 0.5 - vec2(drift_x, drift_y);
    p = mat2(cos(a), -sin(a), sin(a), cos(a)) * p / (zoom + kick);
    vec2 q = p + 0.5;
    // Outside the previous frame is black, not a smeared edge.
    vec2 within = step(abs(q - 0.5), vec2(0.5));
    float inside = within.x * within.y;
    vec3 trail = texture(u_prev, q).rgb * decay * inside;
    if (hue_drift != 0.0) trail = max(turn_hue(trail, hue_drift), 0.0);
    vec3 lit = max(color.rgb, trail);
    frag_color = vec4(mix(color.rgb, lit, amount), 1.0);
}
