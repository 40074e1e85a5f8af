// @effect colour grade: brightness, contrast, saturation, hue, gamma, invert
// Order: brightness and contrast, saturation, hue, clamp to 0..1, gamma, invert.
uniform float brightness;  // @param 0 [-1, 1] smoothing=0.05 "added to every channel"
uniform float contrast;    // @param 1 [0, 3] smoothing=0.05 "spread around mid grey (1 = unchanged)"
uniform float saturation;  // @param 1 [0, 3] smoothing=0.05 "colourfulness (0 = grey, 1 = unchanged)"
uniform float hue;         // @param 0 [-0.5, 0.5] smoothing=0.05 "hue turn, in turns"
uniform float gamma;       // @param 1 [0.2, 5] smoothing=0.05 "gamma (>1 lifts the shadows)"
uniform bool invert;       // @param false "swap light and dark"
uniform float level_brightness;  // @param 0 [0, 1] "brightness added with the audio level"

const vec3 LUMA = vec3(0.2126, 0.7152, 0.0722);

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
    vec3 c = texture(u_input, v_uv).rgb;
    c = (c - 0.5) * contrast + 0.5 + brightness + level_brightness * u_level;
    c = mix(vec3(dot(c, LUMA)), c, saturation);
    if (hue != 0.0) c = turn_hue(c, hue);
    c = pow(clamp(c, 0.0, 1.0), vec3(1.0 / gamma));
    if (invert) c = 1.0 - c;
    frag_color = vec4(c, 1.0);
}
